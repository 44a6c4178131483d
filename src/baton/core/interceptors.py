"""Interceptors: how tracing, metrics and logging see an execution without core knowing them.

The executor calls every interceptor of `ExecutorOptions.interceptors` at three points:

- around the whole run of an execution (`RunInterceptor.execution`), in the task that runs
  it, so whatever the interceptor sets in context (an OpenTelemetry span, log context) is
  inherited by every step worker it starts;
- around each attempt of each step's agent call (`RunInterceptor.step_attempt`), inside the
  worker, so the agent's own work (HTTP calls, model calls, log lines) happens within it;
- with each batch of events once it is committed (`RunInterceptor.events`): retries,
  recovery rungs, approvals, finished steps.

Core stays framework-free: it sees this protocol; `baton.observability` implements it with
OpenTelemetry, Prometheus and the log aggregator, and `baton.app` plugs them in. An
interceptor must not raise from `events` (it is called after the commit, when nothing can
be undone) and must let the exceptions of the code it wraps through.

An interceptor whose work around an attempt never waits may also offer it as two plain
calls (`AttemptHooks`). When every interceptor does, the step workers take them once
(`attempt_hooks`, joined into one call pair by `joined_hooks`) and call them directly
around each attempt: no context manager and no coroutine per interceptor, which is most of
what wrapping an attempt costs (an attempt of a no-op step lasts some 40 microseconds).
`around_attempt` is the general path, for interceptors that must await. An interceptor
with nothing to do around attempts says so with ``watches_attempts = False``
(`attempt_watchers` leaves it out): its `step_attempt` is then never entered. The run takes
each interceptor's ``events`` method once (`event_listeners`) and hands it every batch.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol, runtime_checkable

from baton.events import RunEvent

__all__ = [
    "AttemptHooks",
    "Hooks",
    "RunInterceptor",
    "around_attempt",
    "around_execution",
    "attempt_hooks",
    "attempt_watchers",
    "enter_hooks",
    "event_listeners",
    "joined_hooks",
    "leave_hooks",
]


class RunInterceptor(Protocol):
    """Something that watches executions: see the module docstring for when it is called."""

    def execution(
        self, execution_id: str, workspace_id: str
    ) -> AbstractAsyncContextManager[object]:
        """Entered before an execution's run starts, left when it ends (however it ends)."""
        ...

    def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> AbstractAsyncContextManager[object]:
        """Entered before an attempt's agent call, left when it returns or raises."""
        ...

    def events(self, events: Sequence[RunEvent]) -> None:
        """Committed events, in order; must not raise."""
        ...


@runtime_checkable
class AttemptHooks(Protocol):
    """`RunInterceptor.step_attempt` as two plain calls, for work that never waits.

    ``enter_attempt`` is called before the agent call, ``exit_attempt`` after it with what
    ``enter_attempt`` returned and the exception the call raised (None if it returned). Both
    must behave as ``step_attempt``'s context manager would: ``exit_attempt`` must not
    raise, nor swallow the exception (it has no way to).
    """

    def enter_attempt(self, execution_id: str, step_id: str, agent: str, attempt: int) -> object:
        """Entered before an attempt's agent call; what it returns goes to `exit_attempt`."""
        ...

    def exit_attempt(self, state: object, exc: BaseException | None) -> None:
        """Left when the attempt returns (`exc` None) or raises."""
        ...


@contextlib.asynccontextmanager
async def around_execution(
    interceptors: Sequence[RunInterceptor], execution_id: str, workspace_id: str
) -> AsyncGenerator[None]:
    """Enter every interceptor's `execution` context, first one outermost."""
    async with contextlib.AsyncExitStack() as stack:
        for interceptor in interceptors:
            await stack.enter_async_context(interceptor.execution(execution_id, workspace_id))
        yield


def around_attempt(
    interceptors: Sequence[RunInterceptor],
    execution_id: str,
    step_id: str,
    agent: str,
    attempt: int,
) -> AbstractAsyncContextManager[object]:
    """Enter every interceptor's `step_attempt` context, first one outermost."""
    if len(interceptors) == 1:  # the common case, per attempt: no stack to build
        return interceptors[0].step_attempt(execution_id, step_id, agent, attempt)
    hooks = _joined_of(interceptors)
    if hooks is not None:
        return _Hooked(hooks, execution_id, step_id, agent, attempt)
    return _Nested([i.step_attempt(execution_id, step_id, agent, attempt) for i in interceptors])


_Enter = Callable[[str, str, str, int], object]
_Exit = Callable[[object, BaseException | None], None]

Hooks = tuple[tuple[_Enter, _Exit], ...]
"""The bound ``enter_attempt`` and ``exit_attempt`` of each interceptor, in order."""


def attempt_watchers(interceptors: Sequence[RunInterceptor]) -> tuple[RunInterceptor, ...]:
    """The interceptors that work around attempts.

    All but those whose ``watches_attempts`` is False (their work is all in ``events``).
    """
    return tuple(i for i in interceptors if getattr(i, "watches_attempts", True))


def attempt_hooks(interceptors: Sequence[RunInterceptor]) -> Hooks | None:
    """The interceptors' `AttemptHooks` methods, if every one has them (None otherwise).

    Taken once per executor: the bound methods are looked up here rather than per attempt.
    """
    found: list[tuple[_Enter, _Exit]] = []
    for interceptor in interceptors:
        if not isinstance(interceptor, AttemptHooks):
            return None
        found.append((interceptor.enter_attempt, interceptor.exit_attempt))
    return tuple(found)


def joined_hooks(hooks: Hooks) -> tuple[_Enter, _Exit]:
    """One ``enter`` and one ``exit`` that do what `enter_hooks` and `leave_hooks` do.

    Taken once per executor, like `attempt_hooks`. One hook is returned as it is, and two
    (the telemetry's usual tracing and logging) are called written out: no list of states
    and no loop per attempt, which costs about as much as a hook's own work.
    """
    if len(hooks) == 1:
        return hooks[0]
    if len(hooks) == 2:
        (enter_first, exit_first), (enter_second, exit_second) = hooks

        def enter_both(execution_id: str, step_id: str, agent: str, attempt: int) -> object:
            first = enter_first(execution_id, step_id, agent, attempt)
            try:
                second = enter_second(execution_id, step_id, agent, attempt)
            except BaseException as exc:
                exit_first(first, exc)
                raise
            return first, second

        def exit_both(state: object, exc: BaseException | None) -> None:
            # `state` is what `enter_both` returned (declared, not `cast`: a call per attempt).
            pair: tuple[object, object] = state  # pyright: ignore[reportAssignmentType]
            first, second = pair
            exit_second(second, exc)
            exit_first(first, exc)

        return enter_both, exit_both

    def enter_all(execution_id: str, step_id: str, agent: str, attempt: int) -> object:
        return enter_hooks(hooks, execution_id, step_id, agent, attempt)

    def exit_all(state: object, exc: BaseException | None) -> None:
        leave_hooks(hooks, state, exc)  # pyright: ignore[reportArgumentType]

    return enter_all, exit_all


def enter_hooks(
    hooks: Hooks, execution_id: str, step_id: str, agent: str, attempt: int
) -> list[object]:
    """Call every ``enter_attempt`` in order; their states, for `leave_hooks`.

    If one raises, those already entered are left (with its exception) before it goes on.
    """
    states: list[object] = []
    try:
        for enter, _ in hooks:
            states.append(enter(execution_id, step_id, agent, attempt))
    except BaseException as exc:
        leave_hooks(hooks, states, exc)
        raise
    return states


def leave_hooks(hooks: Hooks, states: list[object], exc: BaseException | None) -> None:
    """Call the ``exit_attempt`` of every hook `enter_hooks` entered, in reverse order."""
    i = len(states)
    while i:  # a countdown rather than a reversed `range`: a third of this call's cost
        i -= 1
        hooks[i][1](states[i], exc)


_JOINED: dict[int, tuple[Sequence[RunInterceptor], tuple[_Enter, _Exit] | None]] = {}
"""id of an interceptor sequence -> the sequence (kept, so its id is not reused) and its
joined hooks."""


def _joined_of(interceptors: Sequence[RunInterceptor]) -> tuple[_Enter, _Exit] | None:
    """`joined_hooks` of `attempt_hooks`, made once per sequence (an executor passes one)."""
    cached = _JOINED.get(id(interceptors))
    if cached is not None and cached[0] is interceptors:
        return cached[1]
    hooks = attempt_hooks(interceptors)
    joined = joined_hooks(hooks) if hooks is not None else None
    if len(_JOINED) >= 64:  # executors made and dropped (tests): forget the old ones
        _JOINED.clear()
    _JOINED[id(interceptors)] = (interceptors, joined)
    return joined


class _Hooked:
    """`AttemptHooks` joined into one pair (`joined_hooks`), as one context manager."""

    __slots__ = ("_agent", "_attempt", "_execution_id", "_hooks", "_state", "_step_id")

    def __init__(
        self,
        hooks: tuple[_Enter, _Exit],
        execution_id: str,
        step_id: str,
        agent: str,
        attempt: int,
    ) -> None:
        self._hooks = hooks
        self._execution_id = execution_id
        self._step_id = step_id
        self._agent = agent
        self._attempt = attempt
        self._state: object = None

    async def __aenter__(self) -> None:
        self._state = self._hooks[0](self._execution_id, self._step_id, self._agent, self._attempt)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._hooks[1](self._state, exc)


class _Nested:
    """Several async context managers entered in order and left in reverse.

    Cheaper per attempt than an `AsyncExitStack` in a generator (this runs once per agent
    call); it relies on the interceptors' contract that their exits neither raise nor
    swallow exceptions.
    """

    __slots__ = ("_entered", "_managers")

    def __init__(self, managers: list[AbstractAsyncContextManager[object]]) -> None:
        self._managers = managers
        self._entered = 0

    async def __aenter__(self) -> None:
        try:
            for manager in self._managers:
                await manager.__aenter__()
                self._entered += 1
        except BaseException as exc:
            await self.__aexit__(type(exc), exc, exc.__traceback__)
            raise

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        while self._entered:
            self._entered -= 1
            await self._managers[self._entered].__aexit__(exc_type, exc, tb)


def event_listeners(
    interceptors: Sequence[RunInterceptor],
) -> tuple[Callable[[Sequence[RunEvent]], None], ...]:
    """The interceptors' bound ``events`` methods, in order.

    Taken once per run, so that handing each committed batch over (once per commit) looks
    no method up.
    """
    return tuple(interceptor.events for interceptor in interceptors)
