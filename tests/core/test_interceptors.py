"""Interceptors see each run, each agent attempt (with its error) and every committed event."""

from __future__ import annotations

import contextlib
import contextvars
import random
from collections.abc import AsyncIterator, Sequence

import pytest

from baton.agents import AgentRegistry, agent
from baton.core.executor import Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.core.recovery import RetryThenFail
from baton.errors import AgentError
from baton.events import RunEvent
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio

CURRENT: contextvars.ContextVar[str] = contextvars.ContextVar("current", default="")


class Recorder:
    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log
        self.seen: list[RunEvent] = []

    @contextlib.asynccontextmanager
    async def execution(self, execution_id: str, workspace_id: str) -> AsyncIterator[None]:
        self.log.append(f"{self.name} enter execution {workspace_id}")
        token = CURRENT.set(f"{execution_id}")
        try:
            yield
        finally:
            CURRENT.reset(token)
            self.log.append(f"{self.name} leave execution")

    @contextlib.asynccontextmanager
    async def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> AsyncIterator[None]:
        # The execution's context reaches the workers.
        assert CURRENT.get() == execution_id
        self.log.append(f"{self.name} enter {step_id}#{attempt} {agent}")
        try:
            yield
        except AgentError as exc:
            self.log.append(f"{self.name} {step_id}#{attempt} raised {exc.message}")
            raise
        self.log.append(f"{self.name} leave {step_id}#{attempt}")

    def events(self, events: Sequence[RunEvent]) -> None:
        self.seen.extend(events)


async def test_interceptors_wrap_runs_and_attempts_and_see_every_event(
    registry: AgentRegistry,
) -> None:
    calls = {"n": 0}

    @agent(description="Fails once, then works.")
    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AgentError("first try fails", retryable=True)
        return "ok"

    registry.register(flaky)
    log: list[str] = []
    outer, inner = Recorder("outer", log), Recorder("inner", log)
    store = MemoryExecutionStore()
    options = ExecutorOptions(interceptors=(outer, inner), workspace_id="ws_1")
    executor = Executor(registry, store, options=options, recovery=RetryThenFail(random.Random(1)))
    o = Orchestrator(registry, store, executor)
    retry = StepPolicy(retry=RetryPolicy(max_attempts=2, initial_delay_s=0.0))
    result = await o.run(Plan(steps=[Step(id="a", agent="flaky", policy=retry)]))

    assert result.ok
    assert log == [
        "outer enter execution ws_1",
        "inner enter execution ws_1",
        "outer enter a#1 flaky",
        "inner enter a#1 flaky",
        "inner a#1 raised first try fails",
        "outer a#1 raised first try fails",
        "outer enter a#2 flaky",
        "inner enter a#2 flaky",
        "inner leave a#2",
        "outer leave a#2",
        "inner leave execution",
        "outer leave execution",
    ]
    stored = [s.event for s in await store.events(result.execution_id)]
    assert outer.seen == stored
    assert inner.seen == stored
