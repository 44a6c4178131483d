"""Conformance: every ExecutionStore applies a `PlanRevised` event the same way."""

from __future__ import annotations

import pytest

from baton.errors import NotFoundError
from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    PlanRevised,
    StepFailed,
    StepReset,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
    utcnow,
)
from baton.store import ExecutionRecord, ExecutionStore, MemoryExecutionStore, StepRecord
from baton.store.compaction import recovery_from_snapshot
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore

pytestmark = pytest.mark.anyio

OLD_PLAN = {
    "steps": [
        {"id": "a", "agent": "echo"},
        {"id": "b", "agent": "broken"},
        {"id": "c", "agent": "shout"},
    ]
}
NEW_PLAN = {
    "steps": [
        {"id": "d", "agent": "echo"},
        {"id": "a", "agent": "echo"},
        {"id": "c", "agent": "upper"},
    ],
    "version": 2,
}


@pytest.fixture
def store(store_database: Database | None) -> ExecutionStore:
    if store_database is None:
        return MemoryExecutionStore()
    return SqlExecutionStore(store_database)


async def failed_execution(store: ExecutionStore) -> None:
    """`a` succeeded, `b` failed, `c` was skipped: the moment a replan comes in."""
    await store.create_execution(
        ExecutionRecord(
            id="ex1",
            name="demo",
            request=None,
            plan=OLD_PLAN,
            status=ExecutionStatus.PENDING,
            created_at=utcnow(),
        ),
        [
            StepRecord(execution_id="ex1", step_id=s["id"], agent=s["agent"], position=i)
            for i, s in enumerate(OLD_PLAN["steps"])
        ],
    )
    await store.append(
        [
            ExecutionStarted(execution_id="ex1", step_count=3),
            StepStarted(execution_id="ex1", step_id="a", agent="echo"),
            StepSucceeded(execution_id="ex1", step_id="a", output={"text": "hi"}),
            StepStarted(execution_id="ex1", step_id="b", agent="broken"),
            StepFailed(execution_id="ex1", step_id="b", error="broken", attempts=1),
            StepSkipped(execution_id="ex1", step_id="c", reason="dependency 'b' did not succeed"),
        ]
    )


def revision() -> PlanRevised:
    return PlanRevised(
        execution_id="ex1",
        plan=NEW_PLAN,
        version=2,
        reason="step 'b' failed: broken",
        added=["d", "c"],
        removed=["b"],
    )


async def test_a_revision_replaces_the_plan_and_the_step_rows(store: ExecutionStore) -> None:
    await failed_execution(store)
    await store.append([revision()])

    record = await store.get_execution("ex1")
    assert record.plan == NEW_PLAN
    assert record.status is ExecutionStatus.RUNNING
    rows = await store.get_steps("ex1")
    # In the new plan's order; `b` is gone, `c` starts afresh with its new agent.
    assert [(s.step_id, s.agent, s.position, s.status) for s in rows] == [
        ("d", "echo", 0, StepStatus.PENDING),
        ("a", "echo", 1, StepStatus.SUCCEEDED),
        ("c", "upper", 2, StepStatus.PENDING),
    ]
    kept, fresh = rows[1], rows[2]
    assert (kept.output, kept.attempts) == ({"text": "hi"}, 1)
    assert (fresh.error, fresh.attempts, fresh.finished_at) == (None, 0, None)


async def test_the_revision_is_in_the_log_as_it_was_written(store: ExecutionStore) -> None:
    await failed_execution(store)
    written = revision()
    stored = await store.append([written])

    log = await store.events("ex1", after=stored[0].seq - 1)
    assert [e.event for e in log] == [written]
    assert log[0].seq == stored[0].seq == 7


async def test_events_before_and_after_a_revision_in_one_batch_apply_in_order(
    store: ExecutionStore,
) -> None:
    await failed_execution(store)
    again = PlanRevised(
        execution_id="ex1",
        plan={"steps": [{"id": "a", "agent": "echo"}, {"id": "b", "agent": "echo"}]},
        version=2,
        added=["b"],
        removed=["c"],
    )
    await store.append(
        [
            StepFailed(execution_id="ex1", step_id="b", error="again", attempts=2),
            again,
            StepStarted(execution_id="ex1", step_id="b", agent="echo", attempt=1),
        ]
    )

    rows = {s.step_id: s for s in await store.get_steps("ex1")}
    assert set(rows) == {"a", "b"}
    assert (rows["b"].status, rows["b"].attempts, rows["b"].error) == (StepStatus.RUNNING, 1, None)


async def test_a_compacted_log_keeps_the_revision(store: ExecutionStore) -> None:
    await failed_execution(store)
    written = revision()
    await store.append(
        [
            written,
            ExecutionFinished(execution_id="ex1", status=ExecutionStatus.FAILED, error="x"),
        ]
    )

    checkpoint = await store.compact("ex1")
    assert [e.event for e in recovery_from_snapshot(checkpoint.snapshot)] == [written]
    assert checkpoint.snapshot["event_kinds"]["plan_revised"] == 1


async def test_memory_store_follows_step_ids_through_a_batch() -> None:
    # The SQL stores cannot tell a missing step from an unchanged one; memory checks first.
    store = MemoryExecutionStore()
    await failed_execution(store)

    with pytest.raises(NotFoundError, match="step 'b' not found"):
        await store.append([revision(), StepReset(execution_id="ex1", step_id="b")])
    assert (await store.get_execution("ex1")).plan == OLD_PLAN  # nothing of the batch applied

    await store.append([revision(), StepStarted(execution_id="ex1", step_id="d", agent="echo")])
    rows = {s.step_id: s.status for s in await store.get_steps("ex1")}
    assert rows == {"d": StepStatus.RUNNING, "a": StepStatus.SUCCEEDED, "c": StepStatus.PENDING}
