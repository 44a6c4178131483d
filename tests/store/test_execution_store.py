"""Conformance suite: every ExecutionStore backend must pass these same tests."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from baton.errors import NotFoundError, UsageError
from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    StepFailed,
    StepInDoubt,
    StepLog,
    StepReset,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
    utcnow,
)
from baton.store import ExecutionRecord, ExecutionStore, MemoryExecutionStore, StepRecord
from baton.store.records import AgentHistory
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_database: Database | None) -> ExecutionStore:
    # Backends (memory, sqlite, postgres) and their cleanup live in conftest.py.
    if store_database is None:
        return MemoryExecutionStore()
    return SqlExecutionStore(store_database)


def execution(ex_id: str = "ex1", *, minutes_ago: int = 0) -> ExecutionRecord:
    return ExecutionRecord(
        id=ex_id,
        name="demo",
        request="do things",
        plan={"steps": [{"id": "a", "agent": "echo"}]},
        status=ExecutionStatus.PENDING,
        created_at=utcnow() - timedelta(minutes=minutes_ago),
    )


def steps(ex_id: str = "ex1", ids: tuple[str, ...] = ("a", "b")) -> list[StepRecord]:
    return [
        StepRecord(execution_id=ex_id, step_id=s, agent="echo", position=i)
        for i, s in enumerate(ids)
    ]


async def test_created_execution_reads_back(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    got = await store.get_execution("ex1")
    assert got.name == "demo"
    assert got.plan == {"steps": [{"id": "a", "agent": "echo"}]}
    assert got.status is ExecutionStatus.PENDING
    assert got.created_at.tzinfo is not None
    assert [s.step_id for s in await store.get_steps("ex1")] == ["a", "b"]


async def test_unknown_execution_is_not_found(store: ExecutionStore) -> None:
    with pytest.raises(NotFoundError):
        await store.get_execution("nope")
    with pytest.raises(NotFoundError):
        await store.get_steps("nope")
    with pytest.raises(NotFoundError):
        await store.events("nope")
    with pytest.raises(NotFoundError):
        await store.request_cancel("nope")


async def test_transitions_update_rows_with_their_events(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    await store.append(
        [
            ExecutionStarted(execution_id="ex1", step_count=2),
            StepStarted(execution_id="ex1", step_id="a", agent="echo", attempt=1),
            StepStarted(execution_id="ex1", step_id="b", agent="echo", attempt=1),
        ]
    )
    await store.append(
        [
            StepRetrying(execution_id="ex1", step_id="b", attempt=1, error="flaky", delay_s=0.1),
            StepSucceeded(execution_id="ex1", step_id="a", output={"text": "hi"}, duration_s=0.5),
        ]
    )
    a, b = await store.get_steps("ex1")
    assert (a.status, a.output, a.duration_s, a.attempts) == (
        StepStatus.SUCCEEDED,
        {"text": "hi"},
        0.5,
        1,
    )
    assert a.finished_at is not None
    assert a.finished_at.tzinfo is not None
    assert (b.status, b.error) == (StepStatus.RUNNING, "flaky")
    assert (await store.get_execution("ex1")).status is ExecutionStatus.RUNNING

    await store.append(
        [
            StepFailed(execution_id="ex1", step_id="b", error="gave up", attempts=2),
            ExecutionFinished(execution_id="ex1", status=ExecutionStatus.FAILED, error="b failed"),
        ]
    )
    _, b = await store.get_steps("ex1")
    assert (b.status, b.error, b.attempts) == (StepStatus.FAILED, "gave up", 2)
    ex = await store.get_execution("ex1")
    assert (ex.status, ex.error) == (ExecutionStatus.FAILED, "b failed")
    assert ex.finished_at is not None


async def test_events_replay_in_order_after_a_position(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    await store.append([ExecutionStarted(execution_id="ex1")])
    await store.append(
        [
            StepLog(execution_id="ex1", step_id="a", message="one"),
            StepSkipped(execution_id="ex1", step_id="b", reason="dependency 'a' failed"),
        ]
    )
    everything = await store.events("ex1")
    assert [e.event.kind for e in everything] == ["execution_started", "log", "step_skipped"]
    assert everything[1].event == StepLog(
        execution_id="ex1", step_id="a", message="one", at=everything[1].event.at
    )
    seqs = [e.seq for e in everything]
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    tail = await store.events("ex1", after=seqs[0])
    assert [e.seq for e in tail] == seqs[1:]
    assert len(await store.events("ex1", after=seqs[0], limit=1)) == 1
    _, b = await store.get_steps("ex1")
    assert (b.status, b.error) == (StepStatus.SKIPPED, "dependency 'a' failed")


async def test_events_of_executions_are_kept_apart(store: ExecutionStore) -> None:
    await store.create_execution(execution("ex1"), steps("ex1"))
    await store.create_execution(execution("ex2"), steps("ex2"))
    await store.append([ExecutionStarted(execution_id="ex1"), ExecutionStarted(execution_id="ex2")])
    assert len(await store.events("ex1")) == 1
    assert len(await store.events("ex2")) == 1


async def test_list_is_newest_first_and_filters_by_status(store: ExecutionStore) -> None:
    await store.create_execution(execution("old", minutes_ago=10), steps("old"))
    await store.create_execution(execution("new"), steps("new"))
    await store.append([ExecutionStarted(execution_id="new")])
    assert [e.id for e in await store.list_executions()] == ["new", "old"]
    assert [e.id for e in await store.list_executions(limit=1)] == ["new"]
    running = await store.list_executions(status=ExecutionStatus.RUNNING)
    assert [e.id for e in running] == ["new"]


async def test_list_filters_by_workspace_and_pages_with_a_cursor(store: ExecutionStore) -> None:
    for i in range(5):
        record = execution(f"ex{i}", minutes_ago=10 - i)
        ws = "ws_a" if i % 2 == 0 else "ws_b"
        await store.create_execution(dataclasses.replace(record, workspace_id=ws), steps(f"ex{i}"))
    mine = await store.list_executions(workspace_id="ws_a")
    assert [e.id for e in mine] == ["ex4", "ex2", "ex0"]
    page = await store.list_executions(workspace_id="ws_a", limit=2)
    rest = await store.list_executions(workspace_id="ws_a", before=page[-1].id)
    assert [e.id for e in page + rest] == ["ex4", "ex2", "ex0"]
    assert [e.id for e in await store.list_executions(before="ex3")] == ["ex2", "ex1", "ex0"]
    assert await store.list_executions(before="no-such-id") == []


async def test_append_returns_the_log_positions_it_gave(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    first = await store.append([ExecutionStarted(execution_id="ex1")])
    second = await store.append(
        [StepStarted(execution_id="ex1", step_id="a"), StepLog(execution_id="ex1", step_id="a")]
    )
    assert [s.seq for s in first + second] == [1, 2, 3]
    assert [s.event.kind for s in second] == ["step_started", "log"]
    assert [s.seq for s in await store.events("ex1")] == [1, 2, 3]
    assert await store.append([]) == []


async def test_cancel_request_is_a_flag(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    flagged = await store.request_cancel("ex1")
    assert flagged.cancel_requested
    assert (await store.get_execution("ex1")).cancel_requested


async def test_agent_history_summarises_finished_steps(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps(ids=("a", "b", "c", "d")))
    await store.append(
        [
            StepSucceeded(execution_id="ex1", step_id="a", duration_s=1.0),
            StepSucceeded(execution_id="ex1", step_id="b", duration_s=3.0),
            StepFailed(execution_id="ex1", step_id="c", error="x"),
        ]
    )
    assert await store.agent_history() == {
        "echo": AgentHistory(succeeded=2, failed=1, mean_duration_s=2.0)
    }


async def test_a_failed_append_changes_nothing(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    with pytest.raises(Exception):  # noqa: B017, PT011  # backend-specific error types
        await store.append(
            [
                StepStarted(execution_id="ex1", step_id="a", agent="echo"),
                ExecutionStarted(execution_id="missing"),
            ]
        )
    a, _ = await store.get_steps("ex1")
    assert a.status is StepStatus.PENDING
    assert await store.events("ex1") == []


async def test_event_positions_are_gap_free_per_execution(store: ExecutionStore) -> None:
    await store.create_execution(execution("ex1"), steps("ex1"))
    await store.create_execution(execution("ex2"), steps("ex2"))
    await store.append([ExecutionStarted(execution_id="ex1"), ExecutionStarted(execution_id="ex2")])
    await store.append([StepLog(execution_id="ex1", step_id="a", message=str(i)) for i in range(3)])
    assert [e.seq for e in await store.events("ex1")] == [1, 2, 3, 4]
    assert [e.seq for e in await store.events("ex2")] == [1]


async def test_lease_is_exclusive_until_it_expires(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    assert await store.acquire_lease("ex1", "proc-a", ttl_s=30)
    assert not await store.acquire_lease("ex1", "proc-b", ttl_s=30)
    assert await store.acquire_lease("ex1", "proc-a", ttl_s=30)  # re-entrant for its holder
    assert await store.renew_lease("ex1", "proc-a", ttl_s=30)
    assert not await store.renew_lease("ex1", "proc-b", ttl_s=30)
    record = await store.get_execution("ex1")
    assert record.lease_owner == "proc-a"
    assert record.lease_expires_at is not None
    assert record.lease_expires_at > utcnow()
    await store.release_lease("ex1", "proc-b")  # not the holder: nothing happens
    assert not await store.acquire_lease("ex1", "proc-b", ttl_s=30)
    await store.release_lease("ex1", "proc-a")
    assert await store.acquire_lease("ex1", "proc-b", ttl_s=30)


async def test_an_expired_lease_can_be_taken_over(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    assert await store.acquire_lease("ex1", "dead", ttl_s=-1)  # already expired
    assert await store.acquire_lease("ex1", "alive", ttl_s=30)
    assert not await store.renew_lease("ex1", "dead", ttl_s=30)  # the old holder finds out


async def test_lease_of_unknown_execution_is_not_found(store: ExecutionStore) -> None:
    with pytest.raises(NotFoundError):
        await store.acquire_lease("nope", "me", ttl_s=30)


async def test_orphans_are_unfinished_executions_without_a_live_lease(
    store: ExecutionStore,
) -> None:
    for ex_id in ("held", "expired", "free", "done", "never_started"):
        await store.create_execution(execution(ex_id), steps(ex_id))
        if ex_id != "never_started":
            await store.append([ExecutionStarted(execution_id=ex_id)])
    await store.append([ExecutionFinished(execution_id="done", status=ExecutionStatus.SUCCEEDED)])
    await store.acquire_lease("held", "someone", ttl_s=60)
    await store.acquire_lease("expired", "someone", ttl_s=-1)
    await store.acquire_lease("never_started", "someone", ttl_s=-1)
    for ex_id, doubt in (("doubtful", True), ("decided", False)):
        await store.create_execution(execution(ex_id), steps(ex_id))
        await store.append([StepInDoubt(execution_id=ex_id, step_id="a")])
        if not doubt:
            await store.append([StepReset(execution_id=ex_id, step_id="a")])
        await store.append([ExecutionWaiting(execution_id=ex_id, reason="x")])
    orphans = {e.id for e in await store.orphaned_executions()}
    assert orphans == {"expired", "free", "never_started", "decided"}


async def test_compaction_folds_the_log_and_keeps_the_rows(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    await store.append(
        [
            ExecutionStarted(execution_id="ex1"),
            StepStarted(execution_id="ex1", step_id="a", agent="echo"),
            StepSucceeded(execution_id="ex1", step_id="a", output={"x": 1}, duration_s=0.5),
            StepSkipped(execution_id="ex1", step_id="b", reason="not needed"),
        ]
    )
    with pytest.raises(UsageError, match="only a finished execution"):
        await store.compact("ex1")
    await store.append([ExecutionFinished(execution_id="ex1", status=ExecutionStatus.FAILED)])
    before = (await store.get_execution("ex1"), await store.get_steps("ex1"))

    checkpoint = await store.compact("ex1")

    assert (checkpoint.event_count, checkpoint.last_seq) == (5, 5)
    assert checkpoint.snapshot["status"] == "failed"
    assert checkpoint.snapshot["steps"]["a"]["status"] == "succeeded"
    assert checkpoint.snapshot["event_kinds"]["step_started"] == 1
    assert await store.events("ex1") == []
    assert (await store.get_execution("ex1"), await store.get_steps("ex1")) == before
    assert await store.checkpoint("ex1") == checkpoint
    assert await store.compact("ex1") == checkpoint  # idempotent


async def test_no_checkpoint_before_compaction(store: ExecutionStore) -> None:
    await store.create_execution(execution(), steps())
    assert await store.checkpoint("ex1") is None
    with pytest.raises(NotFoundError):
        await store.checkpoint("nope")
