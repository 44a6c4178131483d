"""The smart cache in the executor: hits skip the agent, and the cache never fails a step."""

from __future__ import annotations

import random
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from baton.agents import AgentRegistry, agent
from baton.core.caching import ResultCache
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, Step, StepPolicy
from baton.core.recovery import RetryThenFail
from baton.events import (
    EVENT_ADAPTER,
    ExecutionStatus,
    RunEvent,
    StepStarted,
    StepStatus,
    StepSucceeded,
)
from baton.safety.approvals import Approvals
from baton.store import MemoryExecutionStore
from baton.store.approvals import MemoryApprovalStore
from baton.store.result_cache import CacheEntry, MemoryResultCacheStore
from support.clock import FakeClock

pytestmark = pytest.mark.anyio


class Text(BaseModel):
    text: str


class Calls:
    """How often each agent ran."""

    def __init__(self) -> None:
        self.count: dict[str, int] = {}

    def add(self, name: str) -> None:
        self.count[name] = self.count.get(name, 0) + 1


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def registry(calls: Calls) -> AgentRegistry:
    @agent(name="up", description="Upper-case a text.", cacheable=True)
    async def up(text: str) -> Text:
        calls.add("up")
        return Text(text=text.upper())

    @agent(name="now", description="Not a function of its inputs.")
    async def now(text: str) -> Text:
        calls.add("now")
        return Text(text=text)

    r = AgentRegistry()
    for a in (up, now):
        r.register(a)
    return r


class Setup:
    def __init__(
        self,
        registry: AgentRegistry,
        *,
        store: Any = None,
        clock: FakeClock | None = None,
        ttl_s: float = 60.0,
        approvals: Approvals | None = None,
    ) -> None:
        self.clock = clock or FakeClock()
        self.cache_store = store if store is not None else MemoryResultCacheStore()
        self.lookups: list[bool] = []
        cache = ResultCache(self.cache_store, ttl_s=ttl_s, clock=self.clock)
        options = ExecutorOptions(
            cache=cache, on_cache_lookup=self.lookups.append, approvals=approvals
        )
        executions = MemoryExecutionStore()
        executor = Executor(
            registry, executions, options=options, recovery=RetryThenFail(random.Random(1))
        )
        self.orchestrator = Orchestrator(registry, executions, executor)

    async def run(
        self, *steps: Step, workspace_id: str | None = None
    ) -> tuple[ExecutionResult, list[RunEvent]]:
        events: list[RunEvent] = []
        result = await self.orchestrator.run(
            Plan(steps=list(steps)), on_event=events.append, workspace_id=workspace_id
        )
        return result, events


def succeeded(events: list[RunEvent]) -> dict[str, StepSucceeded]:
    return {e.step_id: e for e in events if isinstance(e, StepSucceeded)}


CHAIN = (
    Step(id="a", agent="up", inputs={"text": "hi"}),
    Step(id="b", agent="up", inputs={"text": "${a.text} there"}),
)


async def test_a_second_execution_of_the_same_plan_is_answered_from_the_cache(
    registry: AgentRegistry, calls: Calls
) -> None:
    setup = Setup(registry)
    first, first_events = await setup.run(*CHAIN)
    second, second_events = await setup.run(*CHAIN)

    assert first.ok
    assert second.ok
    assert calls.count == {"up": 2}  # each step ran once, in the first execution only
    assert second.outputs == first.outputs == {"a": {"text": "HI"}, "b": {"text": "HI THERE"}}
    assert [e.cached for e in succeeded(first_events).values()] == [False, False]
    assert [e.cached for e in succeeded(second_events).values()] == [True, True]
    assert setup.lookups == [False, False, True, True]
    # The step still starts (its attempt is counted) before the cache answers.
    assert sum(isinstance(e, StepStarted) for e in second_events) == 2


async def test_resolved_inputs_make_the_key(registry: AgentRegistry, calls: Calls) -> None:
    setup = Setup(registry)
    await setup.run(Step(id="a", agent="up", inputs={"text": "hi there"}))

    # Another plan, whose reference resolves to the same text: a hit.
    result, events = await setup.run(
        Step(id="x", agent="now", inputs={"text": "hi"}),
        Step(id="y", agent="up", inputs={"text": "${x.text} there"}),
    )

    assert result.ok
    assert result.outputs["y"] == {"text": "HI THERE"}
    assert succeeded(events)["y"].cached
    assert calls.count == {"up": 1, "now": 1}


async def test_entries_expire_after_the_ttl(registry: AgentRegistry, calls: Calls) -> None:
    setup = Setup(registry, ttl_s=60)
    step = Step(id="a", agent="up", inputs={"text": "hi"})
    await setup.run(step)
    setup.clock.advance(59)
    _, events = await setup.run(step)
    assert succeeded(events)["a"].cached

    setup.clock.advance(1)
    _, events = await setup.run(step)

    assert not succeeded(events)["a"].cached
    assert calls.count == {"up": 2}


async def test_policy_cache_off_and_non_cacheable_agents_are_never_cached(
    registry: AgentRegistry, calls: Calls
) -> None:
    setup = Setup(registry)
    steps = (
        Step(id="a", agent="up", inputs={"text": "hi"}, policy=StepPolicy(cache=False)),
        Step(id="b", agent="now", inputs={"text": "hi"}),
    )
    await setup.run(*steps)
    _, events = await setup.run(*steps)

    assert calls.count == {"up": 2, "now": 2}
    assert not any(e.cached for e in succeeded(events).values())
    assert setup.lookups == []
    assert (await setup.cache_store.stats("default")).entries == 0


async def test_workspaces_do_not_share_entries(registry: AgentRegistry, calls: Calls) -> None:
    setup = Setup(registry)
    step = Step(id="a", agent="up", inputs={"text": "hi"})
    await setup.run(step, workspace_id="ws_a")
    _, events = await setup.run(step, workspace_id="ws_b")

    assert not succeeded(events)["a"].cached
    assert calls.count == {"up": 2}
    assert (await setup.cache_store.stats("ws_a")).entries == 1


class BrokenStore(MemoryResultCacheStore):
    """A cache store whose database is gone."""

    async def get(self, key: str, now: datetime) -> dict[str, Any] | None:
        raise OSError("disk gone")

    async def put(self, key: str, entry: CacheEntry) -> None:
        raise OSError("disk gone")


async def test_a_failing_cache_store_does_not_fail_the_step(
    registry: AgentRegistry, calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    setup = Setup(registry, store=BrokenStore())

    result, events = await setup.run(Step(id="a", agent="up", inputs={"text": "hi"}))

    assert result.ok
    assert result.outputs["a"] == {"text": "HI"}
    assert not succeeded(events)["a"].cached
    assert calls.count == {"up": 1}
    assert setup.lookups == [False]  # a failed read counts as a miss: the agent ran
    assert "disk gone" in caplog.text


async def test_no_cache_configured_runs_every_time(registry: AgentRegistry, calls: Calls) -> None:
    executions = MemoryExecutionStore()
    o = Orchestrator(registry, executions, Executor(registry, executions))
    for _ in range(2):
        await o.run(Plan(steps=[Step(id="a", agent="up", inputs={"text": "hi"})]))

    assert calls.count == {"up": 2}


def test_events_logged_before_the_cache_existed_still_load() -> None:
    old = {
        "kind": "step_succeeded",
        "execution_id": "ex_1",
        "step_id": "a",
        "at": "2026-03-09T09:00:00Z",
        "output": {"text": "HI"},
        "duration_s": 0.1,
        "attempt": 1,
    }

    event = EVENT_ADAPTER.validate_python(old)

    assert isinstance(event, StepSucceeded)
    assert event.cached is False
    hit = StepSucceeded(execution_id="ex_1", step_id="a", cached=True)
    assert EVENT_ADAPTER.validate_python(EVENT_ADAPTER.dump_python(hit, mode="json")) == hit


async def test_a_gated_step_waits_for_its_approval_even_with_a_cached_output(
    registry: AgentRegistry, calls: Calls
) -> None:
    approvals = Approvals(store=MemoryApprovalStore())
    setup = Setup(registry, approvals=approvals)
    critical = Step(id="a", agent="up", inputs={"text": "hi"}, policy=StepPolicy(critical=True))
    await setup.run(Step(id="a", agent="up", inputs={"text": "hi"}))  # fills the cache

    waiting, _ = await setup.run(critical)

    assert waiting.status is ExecutionStatus.WAITING
    assert waiting.steps["a"] is StepStatus.AWAITING_APPROVAL
    (pending,) = await approvals.list()
    await approvals.approve(pending.id, by="dana")
    events: list[RunEvent] = []
    done = await setup.orchestrator.execute(waiting.execution_id, on_event=events.append)
    assert done.ok
    assert succeeded(events)["a"].cached  # answered from the cache once approved
    assert calls.count == {"up": 1}
