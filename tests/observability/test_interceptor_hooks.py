"""Interceptors entered through their plain-call hooks (`AttemptHooks`), as the executor does."""

from __future__ import annotations

from collections.abc import Sequence
from types import TracebackType

import pytest

from baton.core.interceptors import (
    RunInterceptor,
    around_attempt,
    attempt_hooks,
    attempt_watchers,
)
from baton.events import RunEvent
from baton.observability.logs_interceptor import LoggingInterceptor
from baton.observability.metrics_interceptor import MetricsInterceptor
from baton.observability.tracing import TracingInterceptor

pytestmark = pytest.mark.anyio


class _Scope:
    def __init__(self, owner: Hooked, step_id: str) -> None:
        self._owner = owner
        self._step_id = step_id

    async def __aenter__(self) -> None:
        self._state = self._owner.enter_attempt("ex", self._step_id, "a", 1)

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._owner.exit_attempt(self._state, exc)


class Hooked:
    """Records what it is called with, in a log shared with the others."""

    def __init__(self, name: str, log: list[str], *, fail_enter: bool = False) -> None:
        self.name = name
        self.log = log
        self.fail_enter = fail_enter

    def execution(self, execution_id: str, workspace_id: str) -> _Scope:
        raise NotImplementedError

    def step_attempt(self, execution_id: str, step_id: str, agent: str, attempt: int) -> _Scope:
        return _Scope(self, step_id)

    def events(self, events: Sequence[RunEvent]) -> None:
        """Nothing."""

    def enter_attempt(self, execution_id: str, step_id: str, agent: str, attempt: int) -> object:
        if self.fail_enter:
            raise RuntimeError(f"{self.name} cannot enter")
        self.log.append(f"enter {self.name} {step_id}")
        return f"state of {self.name}"

    def exit_attempt(self, state: object, exc: BaseException | None) -> None:
        self.log.append(f"exit {self.name} {state} {type(exc).__name__ if exc else None}")


class Plain(Hooked):
    """No hooks: only the context manager."""

    enter_attempt = None  # type: ignore[assignment]
    exit_attempt = None  # type: ignore[assignment]

    def step_attempt(self, execution_id: str, step_id: str, agent: str, attempt: int) -> _Scope:
        return _PlainScope(self, step_id)  # type: ignore[return-value]


class _PlainScope:
    def __init__(self, owner: Plain, step_id: str) -> None:
        self._owner = owner
        self._step_id = step_id

    async def __aenter__(self) -> None:
        self._owner.log.append(f"enter {self._owner.name} {self._step_id}")

    async def __aexit__(
        self, et: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._owner.log.append(f"exit {self._owner.name} {type(exc).__name__ if exc else None}")


def test_the_observability_interceptors_offer_the_hooks() -> None:
    from opentelemetry.trace import NoOpTracer

    tracing, logging, metrics = (
        TracingInterceptor(NoOpTracer()),
        LoggingInterceptor(),
        MetricsInterceptor(),
    )
    # Metrics have nothing to do around attempts (the events carry the error classes):
    # left out there, so the other two take the fast path.
    watchers = attempt_watchers((tracing, logging, metrics))
    assert watchers == (tracing, logging)
    hooks = attempt_hooks(watchers)
    assert hooks is not None
    assert len(hooks) == 2


async def test_hooks_are_entered_in_order_and_left_in_reverse() -> None:
    log: list[str] = []
    interceptors: tuple[RunInterceptor, ...] = (Hooked("a", log), Hooked("b", log))
    async with around_attempt(interceptors, "ex", "s1", "agent", 1):
        log.append("agent runs")
    assert log == [
        "enter a s1",
        "enter b s1",
        "agent runs",
        "exit b state of b None",
        "exit a state of a None",
    ]


async def test_the_agents_exception_reaches_every_hook_and_goes_on() -> None:
    log: list[str] = []
    interceptors: tuple[RunInterceptor, ...] = (Hooked("a", log), Hooked("b", log))
    with pytest.raises(ValueError, match="agent failed"):
        async with around_attempt(interceptors, "ex", "s1", "agent", 1):
            raise ValueError("agent failed")
    assert log[-2:] == ["exit b state of b ValueError", "exit a state of a ValueError"]


async def test_a_hook_that_cannot_enter_leaves_the_ones_entered() -> None:
    log: list[str] = []
    interceptors: tuple[RunInterceptor, ...] = (
        Hooked("a", log),
        Hooked("b", log, fail_enter=True),
        Hooked("c", log),
    )
    with pytest.raises(RuntimeError, match="b cannot enter"):
        async with around_attempt(interceptors, "ex", "s1", "agent", 1):
            log.append("agent runs")  # pragma: no cover - never reached
    assert log == ["enter a s1", "exit a state of a RuntimeError"]


async def test_without_hooks_on_every_one_their_context_managers_nest() -> None:
    log: list[str] = []
    interceptors: tuple[RunInterceptor, ...] = (Hooked("a", log), Plain("p", log))
    for step in ("s1", "s2"):  # the second attempt reads the cached answer
        async with around_attempt(interceptors, "ex", step, "agent", 1):
            log.append("agent runs")
    assert log[:5] == [
        "enter a s1",
        "enter p s1",
        "agent runs",
        "exit p None",
        "exit a state of a None",
    ]
    assert log[5] == "enter a s2"
