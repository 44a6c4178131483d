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
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Sequence
from contextlib import AbstractAsyncContextManager
from types import TracebackType
from typing import Protocol

from baton.events import RunEvent

__all__ = ["RunInterceptor", "around_attempt", "around_execution", "notify"]


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
    return _Nested([i.step_attempt(execution_id, step_id, agent, attempt) for i in interceptors])


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


def notify(interceptors: Sequence[RunInterceptor], events: Sequence[RunEvent]) -> None:
    """Hand committed `events` to every interceptor."""
    for interceptor in interceptors:
        interceptor.events(events)
