"""Replanning inside an execution: a step fails for good, a revised plan goes on from there."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.ladder import LadderPolicy
from baton.core.lease import new_owner_id
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, Provenance, Step, StepPolicy
from baton.core.replanning import Replanner
from baton.errors import AgentError, ErrorClass, Rung, StoreError
from baton.events import (
    ExecutionStarted,
    ExecutionStatus,
    PlanRevised,
    RunEvent,
    StepStarted,
    StepStatus,
)
from baton.llm.usage import Budget, UsageTotals
from baton.safety.approvals import Approvals
from baton.store import ExecutionStore, MemoryExecutionStore
from baton.store.approvals import MemoryApprovalStore
from baton.store.delegating import DelegatingExecutionStore
from baton.store.records import StoredEvent
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.schema import create_schema

pytestmark = pytest.mark.anyio


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ExecutionStore]:
    if request.param == "memory":
        yield MemoryExecutionStore()
        return
    db = open_database(sqlite_url(tmp_path / "baton.db"))
    try:
        await create_schema(db)
        yield SqlExecutionStore(db)
    finally:
        await db.dispose()


class Scripted:
    """A replanner that answers with the plans it is given, in turn, and remembers the asks."""

    def __init__(self, *answers: Plan | Exception) -> None:
        self.answers = list(answers)
        self.asked: list[dict[str, Any]] = []
        self.spent: list[UsageTotals] = []

    async def __call__(
        self,
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        spent: UsageTotals,
    ) -> Plan:
        self.asked.append(
            {
                "version": plan.version,
                "finished": dict(finished),
                "failed": dict(failed),
                "reason": reason,
            }
        )
        self.spent.append(spent)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def orchestrator(
    registry: AgentRegistry,
    store: ExecutionStore,
    replanner: Replanner | None,
    *,
    max_replans: int = 2,
) -> Orchestrator:
    options = ExecutorOptions(owner=new_owner_id(), replanner=replanner, max_replans=max_replans)
    return Orchestrator(registry, store, Executor(registry, store, options=options))


FAILING = Plan(
    name="greet",
    steps=[
        Step(id="a", agent="echo", inputs={"text": "hi"}),
        Step(id="b", agent="broken", inputs={"text": "${a.text}"}),
        Step(id="c", agent="shout", inputs={"text": "${b.text}"}),
    ],
)

REPAIRED = Plan(
    name="greet",
    steps=[
        Step(id="a", agent="echo", inputs={"text": "hi"}),
        Step(id="b2", agent="echo", inputs={"text": "${a.text} there"}),
        Step(id="c", agent="shout", inputs={"text": "${b2.text}"}),
    ],
)


async def run(o: Orchestrator, plan: Plan = FAILING) -> tuple[ExecutionResult, list[RunEvent]]:
    events: list[RunEvent] = []
    result = await o.run(plan, on_event=events.append)
    return result, events


def started(events: Sequence[RunEvent | StoredEvent], step_id: str) -> int:
    found = [e.event if isinstance(e, StoredEvent) else e for e in events]
    return sum(1 for e in found if isinstance(e, StepStarted) and e.step_id == step_id)


async def test_a_failed_step_is_replaced_and_the_execution_succeeds(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    replanner = Scripted(REPAIRED)
    result, events = await run(orchestrator(registry, store, replanner))

    assert result.status is ExecutionStatus.SUCCEEDED
    assert result.outputs["c"] == {"text": "HI THERE"}
    assert set(result.steps) == {"a", "b2", "c"}
    assert replanner.asked == [
        {
            "version": 1,
            "finished": {"a": {"text": "hi"}},
            "failed": {"b": "broken on purpose"},
            "reason": "step 'b' failed: broken on purpose",
        }
    ]
    revised = [e for e in events if isinstance(e, PlanRevised)]
    assert len(revised) == 1
    assert revised[0].version == 2
    assert revised[0].reason == "step 'b' failed: broken on purpose"
    assert revised[0].added == ["b2", "c"]
    assert revised[0].removed == ["b"]
    assert started(events, "a") == 1
    assert started(events, "b") == 1

    record = await store.get_execution(result.execution_id)
    assert record.status is ExecutionStatus.SUCCEEDED
    assert record.error is None
    stored_plan = Plan.model_validate(record.plan)
    assert stored_plan.version == 2
    assert stored_plan.revised_because == "step 'b' failed: broken on purpose"
    rows = await store.get_steps(result.execution_id)
    assert [(s.step_id, s.status) for s in rows] == [
        ("a", StepStatus.SUCCEEDED),
        ("b2", StepStatus.SUCCEEDED),
        ("c", StepStatus.SUCCEEDED),
    ]
    log = await store.events(result.execution_id)
    assert [e.event.kind for e in log].count("plan_revised") == 1
    assert started(log, "a") == 1


async def test_a_failed_step_kept_in_the_revision_runs_again_afresh(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    # The revision puts a new step in front of `c` and keeps `c`, skipped before, as it was.
    replanner = Scripted(
        Plan(
            steps=[
                Step(id="a", agent="echo", inputs={"text": "hi"}),
                Step(id="b", agent="echo", inputs={"text": "fixed"}),
                Step(id="c", agent="shout", inputs={"text": "${b.text}"}),
            ]
        )
    )
    result, events = await run(orchestrator(registry, store, replanner))

    assert result.ok
    assert result.outputs["c"] == {"text": "FIXED"}
    revised = next(e for e in events if isinstance(e, PlanRevised))
    assert (revised.added, revised.removed) == (["b", "c"], [])
    rows = {s.step_id: s for s in await store.get_steps(result.execution_id)}
    assert rows["b"].status is StepStatus.SUCCEEDED
    assert rows["b"].attempts == 1  # a fresh row: the failed attempt is not counted in
    assert rows["b"].agent == "echo"


KEYS: list[str] = []


@agent(description="Fails unless its idempotency key is a revised plan's.")
async def keyed(ctx: AgentContext) -> str:
    KEYS.append(ctx.idempotency_key)
    if not ctx.idempotency_key.endswith(":v2"):
        raise AgentError("the external system answers this key with its old failure")
    return "done"


async def test_a_step_run_again_by_a_revision_gets_a_new_idempotency_key(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    KEYS.clear()
    registry.register(keyed)
    plan = Plan(
        steps=[Step(id="a", agent="echo", inputs={"text": "hi"}), Step(id="k", agent="keyed")]
    )
    result, _ = await run(orchestrator(registry, store, Scripted(plan)), plan)

    assert result.ok
    assert [f"{result.execution_id}:k", f"{result.execution_id}:k:v2"] == KEYS


async def test_at_most_max_replans_revisions_then_the_execution_fails(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    def still_failing(n: int) -> Plan:
        return Plan(
            steps=[
                Step(id="a", agent="echo", inputs={"text": "hi"}),
                Step(id=f"b{n}", agent="broken", inputs={"text": "${a.text}"}),
            ]
        )

    replanner = Scripted(still_failing(1), still_failing(2), still_failing(3))
    result, events = await run(orchestrator(registry, store, replanner))

    assert result.status is ExecutionStatus.FAILED
    assert [a["version"] for a in replanner.asked] == [1, 2]
    assert [a["reason"] for a in replanner.asked] == [
        "step 'b' failed: broken on purpose",
        "step 'b1' failed: broken on purpose",
    ]
    assert [e.version for e in events if isinstance(e, PlanRevised)] == [2, 3]
    record = await store.get_execution(result.execution_id)
    assert record.status is ExecutionStatus.FAILED
    assert record.error == (
        "step 'b2' failed: broken on purpose; the plan was already revised 2 time(s), "
        "the most allowed"
    )
    assert Plan.model_validate(record.plan).version == 3
    assert started(events, "a") == 1


async def test_max_replans_zero_turns_replanning_off(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    replanner = Scripted(REPAIRED)
    result, _ = await run(orchestrator(registry, store, replanner, max_replans=0))

    assert result.status is ExecutionStatus.FAILED
    assert replanner.asked == []


async def test_a_revision_that_changes_a_finished_step_fails_the_execution(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    changed = REPAIRED.model_copy(deep=True)
    changed.steps[0].inputs = {"text": "something else"}
    result, events = await run(orchestrator(registry, store, Scripted(changed)))

    assert result.status is ExecutionStatus.FAILED
    assert not any(isinstance(e, PlanRevised) for e in events)
    record = await store.get_execution(result.execution_id)
    assert record.error == (
        "step 'b' failed: broken on purpose; replanning failed: the revised plan changes "
        "step 'a', which has already succeeded (its agent and inputs must stay as they were)"
    )
    assert Plan.model_validate(record.plan).version == 1
    rows = {s.step_id: s.status for s in await store.get_steps(result.execution_id)}
    assert rows == {"a": StepStatus.SUCCEEDED, "b": StepStatus.FAILED, "c": StepStatus.SKIPPED}


async def test_a_revision_that_drops_a_finished_step_fails_the_execution(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    dropped = Plan(steps=[Step(id="z", agent="echo", inputs={"text": "x"})])
    result, _ = await run(orchestrator(registry, store, Scripted(dropped)))

    assert result.status is ExecutionStatus.FAILED
    record = await store.get_execution(result.execution_id)
    assert record.error is not None
    assert "drops step 'a', which has already succeeded" in record.error


async def test_an_invalid_revision_fails_the_execution_with_both_reasons(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    invalid = Plan(
        steps=[
            Step(id="a", agent="echo", inputs={"text": "hi"}),
            Step(id="b2", agent="no.such.agent"),
        ]
    )
    result, _ = await run(orchestrator(registry, store, Scripted(invalid)))

    assert result.status is ExecutionStatus.FAILED
    record = await store.get_execution(result.execution_id)
    assert record.error is not None
    assert record.error.startswith(
        "step 'b' failed: broken on purpose; replanning failed: the revised plan is invalid"
    )
    assert "no.such.agent" in record.error


async def test_a_replanner_that_raises_fails_the_execution_with_both_reasons(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    replanner = Scripted(RuntimeError("the model is down"))
    result, _ = await run(orchestrator(registry, store, replanner))

    assert result.status is ExecutionStatus.FAILED
    record = await store.get_execution(result.execution_id)
    assert record.error == (
        "step 'b' failed: broken on purpose; replanning failed: RuntimeError: the model is down"
    )


async def test_without_a_replanner_nothing_changes(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    result, events = await run(orchestrator(registry, store, None))

    assert result.status is ExecutionStatus.FAILED
    assert not any(isinstance(e, PlanRevised) for e in events)
    record = await store.get_execution(result.execution_id)
    assert record.error == "step 'b' failed: broken on purpose"


PLANNED = FAILING.model_copy(
    update={
        "budget": Budget(max_tokens=10_000),
        "provenance": Provenance(planner="llm", calls=1, input_tokens=100, output_tokens=20),
    }
)


async def test_the_revision_keeps_the_budget_and_the_planning_cost_so_far(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    # As the planners do: the revision's provenance adds its own calls to the plan's.
    repaired = REPAIRED.model_copy(
        update={
            "budget": Budget(max_tokens=1_000_000),  # a replanner cannot raise the budget
            "provenance": Provenance(planner="llm", calls=3, input_tokens=150, output_tokens=25),
        }
    )
    replanner = Scripted(repaired)
    result, _ = await run(orchestrator(registry, store, replanner), PLANNED)

    assert result.ok
    # What it was told was spent: planning (no step here calls a model).
    assert [(s.calls, s.tokens) for s in replanner.spent] == [(1, 120)]
    plan = Plan.model_validate((await store.get_execution(result.execution_id)).plan)
    assert plan.budget == Budget(max_tokens=10_000)
    assert plan.provenance is not None
    assert (plan.provenance.calls, plan.provenance.input_tokens) == (3, 150)
    assert plan.provenance.output_tokens == 25


async def test_a_revision_cannot_make_planning_look_cheaper(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    cheap = REPAIRED.model_copy(update={"provenance": Provenance(planner="offline")})
    result, _ = await run(orchestrator(registry, store, Scripted(cheap)), PLANNED)

    assert result.ok
    plan = Plan.model_validate((await store.get_execution(result.execution_id)).plan)
    assert plan.provenance is not None
    assert plan.provenance.planner == "offline"
    assert (plan.provenance.calls, plan.provenance.input_tokens) == (1, 100)


async def test_no_replan_while_the_execution_waits_for_a_person(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    # `ask` puts one failed step in doubt: the execution waits, it has not failed.
    asks = StepPolicy(recovery={ErrorClass.PERMANENT: [Rung.ASK]})
    plan = Plan(
        steps=[
            Step(id="doubt", agent="broken", policy=asks),
            Step(id="bad", agent="broken"),
        ]
    )
    replanner = Scripted(REPAIRED)
    options = ExecutorOptions(owner=new_owner_id(), replanner=replanner)
    executor = Executor(registry, store, options=options, recovery=LadderPolicy(registry))
    result, _ = await run(Orchestrator(registry, store, executor), plan)

    assert result.status is ExecutionStatus.WAITING
    assert replanner.asked == []


async def test_no_replan_around_a_step_a_person_rejected(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    approvals = Approvals(store=MemoryApprovalStore())
    replanner = Scripted(REPAIRED)
    options = ExecutorOptions(owner=new_owner_id(), replanner=replanner, approvals=approvals)
    o = Orchestrator(registry, store, Executor(registry, store, options=options))
    critical = StepPolicy(critical=True)
    plan = Plan(steps=[Step(id="a", agent="echo", inputs={"text": "hi"}, policy=critical)])
    first, _ = await run(o, plan)
    assert first.status is ExecutionStatus.WAITING
    (pending,) = await approvals.list()
    await approvals.reject(pending.id, by="dana", reason="not today")

    result = await o.execute(first.execution_id)

    assert result.status is ExecutionStatus.FAILED
    assert replanner.asked == []


class CrashAfterRevision(DelegatingExecutionStore):
    """The process dies right after the revision is committed: nothing more gets written."""

    def __init__(self, inner: ExecutionStore) -> None:
        super().__init__(inner)
        self.revised = False

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        if self.revised:
            raise StoreError("the process died here")
        stored = await self.inner.append(events)
        self.revised = any(isinstance(e, PlanRevised) for e in events)
        return stored


async def test_a_crash_after_the_revision_resumes_with_the_revised_plan(
    registry: AgentRegistry, store: ExecutionStore
) -> None:
    crashing = CrashAfterRevision(store)
    first = orchestrator(registry, crashing, Scripted(REPAIRED))
    record = await first.create(FAILING)
    with pytest.RaisesGroup(pytest.RaisesExc(StoreError, match="the process died here")):
        await first.execute(record.id)
    left = await store.get_execution(record.id)
    assert left.status is ExecutionStatus.RUNNING
    assert Plan.model_validate(left.plan).version == 2

    # Another process takes it up: the revised plan runs, `a` keeps its output.
    replanner = Scripted()
    events: list[RunEvent] = []
    result = await orchestrator(registry, store, replanner).execute(
        record.id, on_event=events.append
    )

    assert result.ok
    assert result.outputs["c"] == {"text": "HI THERE"}
    assert replanner.asked == []
    assert isinstance(events[0], ExecutionStarted)
    assert events[0].resumed
    assert events[0].step_count == 3
    assert started(events, "a") == 0
    assert started(events, "b") == 0
    assert started(events, "b2") == 1
    log = await store.events(record.id)
    assert started(log, "a") == 1
    rows = await store.get_steps(record.id)
    assert [s.step_id for s in rows] == ["a", "b2", "c"]
    assert all(s.status is StepStatus.SUCCEEDED for s in rows)
