"""The event bus: gaps, polling, finishing, heartbeats, dropping slow subscribers, workspaces."""

from __future__ import annotations

import time

import anyio
import anyio.lowlevel
import pytest

import baton.streaming
from baton.errors import NotFoundError, RunError, UsageError
from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    RunEvent,
    StepLog,
    StepStarted,
    utcnow,
)
from baton.store import ExecutionRecord, MemoryExecutionStore, StepRecord
from baton.store.records import StoredEvent
from baton.streaming import (
    HEARTBEAT,
    EventBus,
    ExecutionSubscription,
    PublishingStore,
    SubscriberDropped,
)

pytestmark = pytest.mark.anyio


def test_public_surface() -> None:
    assert baton.streaming.__all__ == [
        "HEARTBEAT",
        "EventBus",
        "ExecutionSubscription",
        "Heartbeat",
        "PublishingStore",
        "SubscriberDropped",
        "Subscription",
        "WorkspaceSubscription",
        "encode",
        "encode_workspace",
        "parse_last_event_id",
    ]
    for name in baton.streaming.__all__:
        assert getattr(baton.streaming, name) is not None


async def create(store: PublishingStore, ex_id: str = "ex1", workspace: str = "w1") -> None:
    record = ExecutionRecord(
        id=ex_id,
        name="demo",
        request=None,
        plan={},
        status=ExecutionStatus.PENDING,
        created_at=utcnow(),
        workspace_id=workspace,
    )
    await store.create_execution(
        record, [StepRecord(execution_id=ex_id, step_id="a", agent="x", position=0)]
    )


def logs(n: int, ex_id: str = "ex1", start: int = 0) -> list[RunEvent]:
    return [StepLog(execution_id=ex_id, step_id="a", message=str(start + i)) for i in range(n)]


def setup(**bus_options: float | None) -> tuple[MemoryExecutionStore, EventBus, PublishingStore]:
    inner = MemoryExecutionStore()
    bus = EventBus(**bus_options)  # type: ignore[arg-type]
    return inner, bus, PublishingStore(inner, bus)


async def take(sub: ExecutionSubscription, n: int) -> list[int]:
    got: list[int] = []
    async for item in sub:
        assert isinstance(item, StoredEvent)
        got.append(item.seq)
        if len(got) == n:
            break
    return got


async def test_a_gap_is_filled_from_the_log_before_the_next_live_event() -> None:
    # The poll is an hour away: only the gap in the live seqs can bring events 3..5.
    inner, bus, store = setup(poll_interval_s=3600)
    await create(store)
    async with bus.subscribe("ex1", store=inner) as sub:
        await store.append(logs(2))
        assert await take(sub, 2) == [1, 2]
        await inner.append(logs(3, start=2))  # another process: committed, never published
        await store.append(logs(1, start=5))
        with anyio.fail_after(1):
            assert await take(sub, 4) == [3, 4, 5, 6]
        assert sub.last_seq == 6


async def test_events_of_another_process_arrive_by_polling() -> None:
    inner, bus, store = setup(poll_interval_s=0.05)
    await create(store)
    async with bus.subscribe("ex1", store=inner) as sub:
        await inner.append(logs(3))  # nothing is published at all
        started = time.monotonic()
        with anyio.fail_after(1):
            assert await take(sub, 3) == [1, 2, 3]
        assert time.monotonic() - started < 0.5  # within about one poll interval
    assert bus.published_total == 0


async def test_subscribe_to_a_finished_execution_replays_everything_and_ends() -> None:
    inner, bus, store = setup(poll_interval_s=3600)
    await create(store)
    await store.append([ExecutionStarted(execution_id="ex1"), *logs(3)])
    await store.append([ExecutionFinished(execution_id="ex1")])
    with anyio.fail_after(1):
        async with bus.subscribe("ex1", store=inner) as sub:
            kinds = [item.event.kind async for item in sub if isinstance(item, StoredEvent)]
        assert kinds == ["execution_started", "log", "log", "log", "execution_finished"]
        # A client that already has the end (Last-Event-ID = 5) gets an empty, closed stream.
        async with bus.subscribe("ex1", after=5, store=inner) as sub:
            assert [item async for item in sub] == []
        async with bus.subscribe("ex1", after=3, store=inner) as sub:
            assert [i.seq async for i in sub if isinstance(i, StoredEvent)] == [4, 5]


async def test_live_stream_ends_after_execution_finished_but_not_after_waiting() -> None:
    inner, bus, store = setup(poll_interval_s=3600, heartbeat_s=None)
    await create(store)
    async with bus.subscribe("ex1", store=inner) as sub:
        await store.append([ExecutionStarted(execution_id="ex1")])
        await store.append([ExecutionWaiting(execution_id="ex1", reason="a is in doubt")])
        await store.append(logs(1))
        await store.append([ExecutionFinished(execution_id="ex1")])
        await store.append(logs(1, start=1))  # after the end: not in this stream
        with anyio.fail_after(1):
            seqs = [i.seq async for i in sub if isinstance(i, StoredEvent)]
    assert seqs == [1, 2, 3, 4]


async def test_following_a_finished_execution_goes_on() -> None:
    inner, bus, store = setup(poll_interval_s=3600, heartbeat_s=None)
    await create(store)
    await store.append([ExecutionFinished(execution_id="ex1", status=ExecutionStatus.CANCELLED)])
    async with bus.subscribe("ex1", store=inner, follow=True) as sub:
        assert await take(sub, 1) == [1]
        await store.append([ExecutionStarted(execution_id="ex1", resumed=True)])
        with anyio.fail_after(1):
            assert await take(sub, 1) == [2]


async def test_unknown_execution_or_resume_point_is_refused() -> None:
    inner, bus, store = setup()
    await create(store)
    await store.append(logs(2))
    with pytest.raises(NotFoundError):
        async with bus.subscribe("nope", store=inner):
            pass
    with pytest.raises(UsageError, match="no event 7"):
        async with bus.subscribe("ex1", after=7, store=inner):
            pass
    with pytest.raises(UsageError):
        bus.subscribe("ex1", after=-1, store=inner)
    assert bus.subscribers == 0  # a failed enter leaves nothing attached


async def test_a_subscription_must_be_entered_once_before_iterating() -> None:
    inner, bus, store = setup()
    await create(store)
    sub = bus.subscribe("ex1", store=inner)
    with pytest.raises(UsageError, match="async with"):
        await sub.__anext__()
    async with sub:
        with pytest.raises(UsageError, match="once"):
            await sub.__aenter__()


async def test_idle_stream_yields_heartbeats_then_events() -> None:
    inner, bus, store = setup(poll_interval_s=0.01, heartbeat_s=0.05)
    await create(store)
    async with bus.subscribe("ex1", store=inner) as sub:
        started = time.monotonic()
        with anyio.fail_after(1):
            assert await sub.__anext__() is HEARTBEAT
        assert time.monotonic() - started >= 0.04  # not before heartbeat_s of quiet
        await store.append(logs(1))
        item = await sub.__anext__()
        assert isinstance(item, StoredEvent)
        assert item.seq == 1


async def test_no_heartbeats_when_disabled() -> None:
    inner, bus, store = setup(poll_interval_s=0.01, heartbeat_s=None)
    await create(store)
    async with bus.subscribe("ex1", store=inner) as sub:
        with anyio.move_on_after(0.1) as quiet:
            await sub.__anext__()
        assert quiet.cancelled_caught


async def test_a_full_buffer_drops_that_subscriber_only() -> None:
    inner, bus, store = setup(max_queue=4, poll_interval_s=3600, heartbeat_s=None)
    await create(store)
    async with (
        bus.subscribe("ex1", store=inner) as slow,
        bus.subscribe("ex1", store=inner) as fast,
    ):
        assert bus.subscribers == 2
        for i in range(10):
            before = time.monotonic()
            await store.append(logs(1, start=i))  # the publisher never waits for readers
            assert time.monotonic() - before < 0.1
            assert await take(fast, 1) == [i + 1]
            if i < 3:
                assert bus.queued_events == i + 1  # all of it in the slow one's buffer
        assert slow.dropped
        assert not fast.dropped
        assert bus.subscribers == 1
        assert bus.dropped_total == 1
        assert bus.published_total == 10
        assert bus.queued_events == 0  # the dropped buffer was freed at once
        # Dropped immediately: what it had buffered is not delivered; it resumes instead.
        with pytest.raises(SubscriberDropped) as dropped:
            await slow.__anext__()
        assert dropped.value.resume_after == 0
        assert isinstance(dropped.value, RunError)
        assert dropped.value.retryable
    async with bus.subscribe("ex1", after=dropped.value.resume_after, store=inner) as again:
        assert await take(again, 10) == list(range(1, 11))


async def test_a_batch_larger_than_the_buffer_drops_a_subscriber_that_was_not_behind() -> None:
    inner, bus, store = setup(max_queue=4, poll_interval_s=3600)
    await create(store)
    async with bus.subscribe("ex1", store=inner) as sub:
        await store.append(logs(5))
        assert sub.dropped
        assert bus.queued_events == 0


async def test_many_subscribers_get_every_event_without_reading_the_store_per_event() -> None:
    reads = 0

    class CountingStore(MemoryExecutionStore):
        async def events(
            self, execution_id: str, *, after: int = 0, limit: int | None = None
        ) -> list[StoredEvent]:
            nonlocal reads
            reads += 1
            return await super().events(execution_id, after=after, limit=limit)

    inner = CountingStore()
    bus = EventBus(poll_interval_s=3600, heartbeat_s=None)
    store = PublishingStore(inner, bus)
    await create(store)
    subscribers, events = 200, 1000
    counts = [0] * subscribers
    entered = anyio.Event()

    async def subscriber(i: int, task_status: anyio.abc.TaskStatus[None]) -> None:
        async with bus.subscribe("ex1", store=inner) as sub:
            task_status.started()
            await entered.wait()
            async for item in sub:
                assert isinstance(item, StoredEvent)
                counts[i] += 1
                assert item.seq == counts[i]

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            for i in range(subscribers):
                await tg.start(subscriber, i)
            entered.set()
            for i in range(events - 1):
                await store.append(logs(1, start=i))
                if i % 100 == 0:
                    await anyio.lowlevel.checkpoint()
            await store.append([ExecutionFinished(execution_id="ex1")])
    assert counts == [events] * subscribers
    assert reads == subscribers  # each read the log once, when it started
    assert bus.dropped_total == 0


async def test_workspace_stream_has_execution_level_events_of_its_workspace_only() -> None:
    inner, bus, store = setup(heartbeat_s=None)
    await create(store, "ex1", workspace="w1")
    await create(store, "ex2", workspace="w2")
    # Created by another process: its workspace is looked up when it starts here.
    await inner.create_execution(
        ExecutionRecord(
            id="ex3",
            name="demo",
            request=None,
            plan={},
            status=ExecutionStatus.PENDING,
            created_at=utcnow(),
            workspace_id="w1",
        ),
        [StepRecord(execution_id="ex3", step_id="a", agent="x", position=0)],
    )
    async with bus.subscribe_workspace("w1") as sub:
        for ex in ("ex1", "ex2", "ex3"):
            await store.append(
                [
                    ExecutionStarted(execution_id=ex),
                    StepStarted(execution_id=ex, step_id="a", agent="x"),
                    *logs(1, ex),
                    ExecutionWaiting(execution_id=ex),
                ]
            )
            await store.append([ExecutionFinished(execution_id=ex)])
        got: list[tuple[str, int, str]] = []
        with anyio.fail_after(1):
            async for item in sub:
                assert isinstance(item, StoredEvent)
                got.append((item.event.execution_id, item.seq, item.event.kind))
                if len(got) == 6:
                    break
    assert got == [
        ("ex1", 1, "execution_started"),
        ("ex1", 4, "execution_waiting"),
        ("ex1", 5, "execution_finished"),
        ("ex3", 1, "execution_started"),
        ("ex3", 4, "execution_waiting"),
        ("ex3", 5, "execution_finished"),
    ]
    assert bus.subscribers == 0


async def test_workspace_stream_is_live_only_and_beats_when_idle() -> None:
    _, bus, store = setup(heartbeat_s=0.05)
    await create(store)
    await store.append([ExecutionStarted(execution_id="ex1")])
    async with bus.subscribe_workspace("w1") as sub:
        with anyio.fail_after(1):
            assert await sub.__anext__() is HEARTBEAT  # the earlier start is not replayed
        await store.append([ExecutionFinished(execution_id="ex1")])
        item = await sub.__anext__()
        assert isinstance(item, StoredEvent)
        assert item.event.kind == "execution_finished"


async def test_a_slow_workspace_subscriber_is_dropped() -> None:
    _, bus, store = setup(max_queue=2)
    for i in range(3):
        await create(store, f"ex{i}")
    async with bus.subscribe_workspace("w1") as sub:
        for i in range(3):
            await store.append([ExecutionStarted(execution_id=f"ex{i}")])
        with pytest.raises(SubscriberDropped) as dropped:
            await sub.__anext__()
        assert dropped.value.resume_after is None
    assert bus.dropped_total == 1


def test_bus_options_must_be_positive() -> None:
    for options in ({"max_queue": 0}, {"poll_interval_s": 0}, {"heartbeat_s": -1}):
        with pytest.raises(UsageError):
            EventBus(**options)  # type: ignore[arg-type]


async def test_a_mixed_batch_reaches_each_execution_s_own_subscribers() -> None:
    inner, bus, store = setup(poll_interval_s=3600)
    await create(store, "a")
    await create(store, "b")
    async with (
        bus.subscribe("a", store=inner) as sub_a,
        bus.subscribe("b", store=inner) as sub_b,
    ):
        await store.append([*logs(2, "a"), *logs(1, "b"), *logs(1, "a")])
        assert bus.published_total == 4
        assert bus.queued_events == 4
        with anyio.fail_after(1):
            a = [(i.event.execution_id, i.seq) for i in [await sub_a.__anext__() for _ in range(3)]
                 if isinstance(i, StoredEvent)]  # fmt: skip
            b = await sub_b.__anext__()
        assert a == [("a", 1), ("a", 2), ("a", 3)]
        assert isinstance(b, StoredEvent)
        assert (b.event.execution_id, b.seq) == ("b", 1)
        assert bus.queued_events == 0
    bus.publish(None, [])
    assert bus.published_total == 4


async def test_a_compacted_execution_streams_nothing_and_closes() -> None:
    inner, bus, store = setup(poll_interval_s=3600)
    await create(store)
    await store.append([ExecutionStarted(execution_id="ex1"), *logs(2)])
    await store.append([ExecutionFinished(execution_id="ex1")])
    await store.compact("ex1")
    with anyio.fail_after(1):
        for after in (0, 2):
            async with bus.subscribe("ex1", after=after, store=inner) as sub:
                assert [item async for item in sub] == []
