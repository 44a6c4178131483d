"""Replay then live: every event after Last-Event-ID, in order, once, whatever the interleaving.

Each scenario runs a writer appending one execution's events in random batches, some through
the publishing store and some straight to the inner store (as another process would, so the
bus never hears of them), while subscribers join at random moments with a random
Last-Event-ID. Reads of the log are slowed down by random checkpoints, so that events are
committed and published between a subscriber's registration, its log read and its drain.
"""

from __future__ import annotations

import random
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RunEvent,
    StepLog,
    utcnow,
)
from baton.store import ExecutionRecord, ExecutionStore, MemoryExecutionStore, StepRecord
from baton.store.records import StoredEvent
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.streaming import EventBus, Heartbeat, PublishingStore

pytestmark = pytest.mark.anyio


async def _jitter(rng: random.Random) -> None:
    for _ in range(rng.randrange(4)):
        await anyio.lowlevel.checkpoint()


class _JitteryReads:
    """Mixin: reads of the log and of the execution yield control around the real read."""

    rng: random.Random

    async def events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        await _jitter(self.rng)
        out: list[StoredEvent] = await super().events(  # type: ignore[misc]
            execution_id, after=after, limit=limit
        )
        await _jitter(self.rng)
        return out

    async def get_execution(self, execution_id: str) -> Any:
        await _jitter(self.rng)
        return await super().get_execution(execution_id)  # type: ignore[misc]


class JitteryMemoryStore(_JitteryReads, MemoryExecutionStore):
    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng


class JitterySqlStore(_JitteryReads, SqlExecutionStore):
    def __init__(self, db: Database, rng: random.Random) -> None:
        super().__init__(db)
        self.rng = rng


def _record(execution_id: str) -> ExecutionRecord:
    return ExecutionRecord(
        id=execution_id,
        name="demo",
        request=None,
        plan={},
        status=ExecutionStatus.PENDING,
        created_at=utcnow(),
    )


def _batches(execution_id: str, rng: random.Random) -> list[list[RunEvent]]:
    """Started, logs, finished: cut into batches of 1 to 5 events."""
    total = rng.randrange(10, 50)
    events: list[RunEvent] = [ExecutionStarted(execution_id=execution_id, step_count=1)]
    events += [
        StepLog(execution_id=execution_id, step_id="a", message=str(i)) for i in range(total - 2)
    ]
    events.append(ExecutionFinished(execution_id=execution_id))
    out: list[list[RunEvent]] = []
    while events:
        n = rng.randrange(1, 6)
        out.append(events[:n])
        events = events[n:]
    return out


async def _scenario(
    store: ExecutionStore, execution_id: str, rng: random.Random, *, bypass: bool
) -> int:
    """Run one interleaving; check every subscriber; return how many subscribers ran.

    With `bypass`, one batch in five is appended around the bus, and subscribers poll the log
    often (else the last batches would be found late). Without, the poll is too rare to
    matter: only the bus and the subscribers' first log read bring the events.
    """
    bus = EventBus(poll_interval_s=0.02 if bypass else 60, heartbeat_s=None, max_queue=4096)
    publishing = PublishingStore(store, bus)
    await publishing.create_execution(
        _record(execution_id),
        [StepRecord(execution_id=execution_id, step_id="a", agent="x", position=0)],
    )
    batches = _batches(execution_id, rng)
    total = sum(len(b) for b in batches)
    committed = 0
    results: list[tuple[int, list[int]]] = []

    async def subscriber(after: int) -> None:
        got: list[int] = []
        results.append((after, got))
        async with bus.subscribe(execution_id, after=after, store=store) as sub:
            async for item in sub:
                assert not isinstance(item, Heartbeat)
                got.append(item.seq)
                await _jitter(rng)

    # Which batch each subscriber joins before (len(batches): after the end).
    joins = sorted(rng.randrange(len(batches) + 1) for _ in range(rng.randrange(1, 7)))
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for i, batch in enumerate([*batches, []]):
                while joins and joins[0] == i:
                    joins.pop(0)
                    tg.start_soon(subscriber, rng.randrange(committed + 1))
                    await _jitter(rng)
                if not batch:
                    break
                # One batch in five goes around the bus, as another process's would.
                target = store if bypass and rng.random() < 0.2 else publishing
                await target.append(batch)
                committed += len(batch)
                await _jitter(rng)
    for after, got in results:
        assert got == list(range(after + 1, total + 1)), f"subscriber after {after}"
    assert bus.subscribers == 0
    assert bus.queued_events == 0
    return len(results)


@pytest.mark.parametrize("bypass", [False, True], ids=["published", "bypassed"])
async def test_every_subscriber_gets_each_event_after_its_id_once_in_order(bypass: bool) -> None:
    subscribers = 0
    for seed in range(40):
        rng = random.Random(seed)
        subscribers += await _scenario(JitteryMemoryStore(rng), f"ex{seed}", rng, bypass=bypass)
    assert subscribers > 100  # the scenarios did exercise many subscribers


async def test_replay_and_live_on_sql_stores(database: Database) -> None:
    # The same guarantee with the log in a real database (SQLite, PostgreSQL): reads there
    # hop to a thread or the network, so publishes happen in the middle of them for real.
    for seed in range(8):
        rng = random.Random(1000 + seed)
        store = JitterySqlStore(database, rng)
        await _scenario(store, f"ex{seed}", rng, bypass=seed % 2 == 1)
