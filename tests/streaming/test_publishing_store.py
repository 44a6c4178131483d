"""The publishing store: an ExecutionStore that publishes what it committed, and only that."""

from __future__ import annotations

from collections.abc import Sequence

import anyio
import pytest

from baton.errors import NotFoundError, StoreError
from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RunEvent,
    StepLog,
    StepStarted,
    StepStatus,
    utcnow,
)
from baton.store import ExecutionRecord, ExecutionStore, MemoryExecutionStore, StepRecord
from baton.store.records import StoredEvent
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.streaming import EventBus, PublishingStore

pytestmark = pytest.mark.anyio


class RecordingBus(EventBus):
    """Records what is published."""

    def __init__(self, inner: ExecutionStore) -> None:
        super().__init__()
        self.inner = inner
        self.published: list[tuple[str | None, list[StoredEvent]]] = []

    def publish(self, workspace_id: str | None, events: Sequence[StoredEvent]) -> None:
        self.published.append((workspace_id, list(events)))
        super().publish(workspace_id, events)


def record(ex_id: str = "ex1", workspace: str = "w1") -> ExecutionRecord:
    return ExecutionRecord(
        id=ex_id,
        name="demo",
        request="do it",
        plan={"steps": []},
        status=ExecutionStatus.PENDING,
        created_at=utcnow(),
        workspace_id=workspace,
    )


def steps(ex_id: str = "ex1") -> list[StepRecord]:
    return [StepRecord(execution_id=ex_id, step_id="a", agent="echo", position=0)]


@pytest.fixture
def inner(store_database: Database | None) -> ExecutionStore:
    return MemoryExecutionStore() if store_database is None else SqlExecutionStore(store_database)


async def test_append_publishes_what_was_committed_with_its_seqs(inner: ExecutionStore) -> None:
    bus = RecordingBus(inner)
    store: ExecutionStore = PublishingStore(inner, bus)
    await store.create_execution(record(), steps())
    first = await store.append(
        [ExecutionStarted(execution_id="ex1"), StepLog(execution_id="ex1", step_id="a")]
    )
    second = await store.append([StepStarted(execution_id="ex1", step_id="a", agent="echo")])
    assert [s.seq for s in first] == [1, 2]
    assert [s.seq for s in second] == [3]
    assert bus.published == [("w1", first), ("w1", second)]
    # Committed by the inner store: the log and the rows agree with what was published.
    assert await inner.events("ex1") == [*first, *second]
    assert (await inner.get_steps("ex1"))[0].status is StepStatus.RUNNING


async def test_a_failed_append_publishes_nothing(inner: ExecutionStore) -> None:
    bus = RecordingBus(inner)
    store = PublishingStore(inner, bus)
    await store.create_execution(record(), steps())
    with pytest.raises((NotFoundError, StoreError)):  # memory: not found; SQL: foreign key
        await store.append([ExecutionStarted(execution_id="nope")])
    assert bus.published == []
    assert bus.published_total == 0


async def test_every_other_method_reaches_the_inner_store(inner: ExecutionStore) -> None:
    store = PublishingStore(inner, EventBus())
    assert store.append_never_suspends is inner.append_never_suspends
    await store.create_execution(record(), steps())
    assert (await store.get_execution("ex1")).request == "do it"
    assert [e.id for e in await store.list_executions(workspace_id="w1")] == ["ex1"]
    assert await store.list_executions(workspace_id="w2") == []
    assert [s.step_id for s in await store.get_steps("ex1")] == ["a"]
    assert await store.acquire_lease("ex1", "me", 30)
    assert not await store.acquire_lease("ex1", "other", 30)
    assert await store.renew_lease("ex1", "me", 30)
    await store.release_lease("ex1", "me")
    assert await store.acquire_lease("ex1", "other", 30)
    await store.release_lease("ex1", "other")
    await store.append([ExecutionStarted(execution_id="ex1")])
    assert [e.id for e in await store.orphaned_executions()] == ["ex1"]
    assert (await store.request_cancel("ex1")).cancel_requested
    await store.append(
        [
            StepStarted(execution_id="ex1", step_id="a", agent="echo"),
            ExecutionFinished(execution_id="ex1", status=ExecutionStatus.CANCELLED),
        ]
    )
    assert [e.seq for e in await store.events("ex1", after=1, limit=1)] == [2]
    assert (await store.agent_history()) == (await inner.agent_history())
    assert await store.checkpoint("ex1") is None
    checkpoint = await store.compact("ex1")
    assert checkpoint.last_seq == 3
    assert await store.checkpoint("ex1") == checkpoint
    assert await inner.events("ex1") == []


async def test_a_slow_subscriber_never_fails_or_holds_up_an_append() -> None:
    inner = MemoryExecutionStore()
    bus = EventBus(max_queue=1)
    store = PublishingStore(inner, bus)
    await store.create_execution(record(), steps())
    async with bus.subscribe("ex1", store=inner) as sub:
        with anyio.fail_after(1):
            stored = await store.append([StepLog(execution_id="ex1", step_id="a")] * 3)
        assert [s.seq for s in stored] == [1, 2, 3]
        assert sub.dropped


class FlakyLookups(MemoryExecutionStore):
    def __init__(self) -> None:
        super().__init__()
        self.lookups = 0
        self.fail = False

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        self.lookups += 1
        if self.fail:
            raise StoreError("the database is gone")
        return await super().get_execution(execution_id)


async def test_workspace_of_an_execution_created_elsewhere_is_looked_up_once() -> None:
    inner = FlakyLookups()
    bus = RecordingBus(inner)
    store = PublishingStore(inner, bus)
    await inner.create_execution(record(workspace="w9"), steps())  # by another process
    await store.append([StepLog(execution_id="ex1", step_id="a")])  # no lifecycle: no lookup
    assert inner.lookups == 0
    await store.append([ExecutionStarted(execution_id="ex1", resumed=True)])
    await store.append([ExecutionFinished(execution_id="ex1")])
    assert inner.lookups == 1
    assert [w for w, _ in bus.published] == [None, "w9", "w9"]
    # Finished: forgotten (only live executions are remembered); a resumption looks again.
    await store.append([ExecutionStarted(execution_id="ex1", resumed=True)])
    assert inner.lookups == 2


async def test_a_failed_workspace_lookup_still_publishes_to_the_execution_stream() -> None:
    inner = FlakyLookups()
    bus = RecordingBus(inner)
    store = PublishingStore(inner, bus)
    await inner.create_execution(record(), steps())
    inner.fail = True
    events: list[RunEvent] = [ExecutionStarted(execution_id="ex1")]
    stored = await store.append(events)
    assert bus.published == [(None, stored)]


async def test_close_closes_the_inner_store() -> None:
    closed = False

    class Closing(MemoryExecutionStore):
        async def close(self) -> None:
            nonlocal closed
            closed = True

    await PublishingStore(Closing(), EventBus()).close()
    assert closed


class CountingReads(MemoryExecutionStore):
    reads = 0

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        self.reads += 1
        return await super().get_execution(execution_id)


@pytest.mark.anyio
async def test_succeeded_records_are_read_once_and_others_every_time() -> None:
    from baton.events import ExecutionFinished, ExecutionStarted, ExecutionStatus, utcnow

    inner = CountingReads()
    store = PublishingStore(inner, EventBus())
    for ex_id, status in (("ok", ExecutionStatus.SUCCEEDED), ("bad", ExecutionStatus.FAILED)):
        record = ExecutionRecord(
            id=ex_id, name=ex_id, request=None, plan={}, status=ExecutionStatus.PENDING,
            created_at=utcnow(),
        )  # fmt: skip
        await store.create_execution(record, [])
        await store.append(
            [
                ExecutionStarted(execution_id=ex_id),
                ExecutionFinished(execution_id=ex_id, status=status),
            ]
        )
    for _ in range(3):
        assert (await store.get_execution("ok")).status is ExecutionStatus.SUCCEEDED
        assert (await store.get_execution("bad")).status is ExecutionStatus.FAILED
    assert inner.reads == 1 + 3  # "ok" once, "bad" (which may be resumed) every time
