"""The aggregator's queue and flusher: bounded, batched, off the logging call's path, and
honest about what it loses; retention; the context manager's contract."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

import anyio
import pytest

from baton.errors import NotFoundError, StoreError
from baton.observability.logs import LogAggregator, LogStats, json_stream_handler
from baton.store.logs import LogRecord, MemoryLogStore
from support.clock import T0, FakeClock
from support.poll import wait_until

pytestmark = pytest.mark.anyio

log = logging.getLogger("baton.test.aggregator")


class RecordingStore(MemoryLogStore):
    """A memory store that remembers its batches and can be told to fail."""

    def __init__(self) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.failures = 0

    async def add(self, records: Sequence[LogRecord]) -> int:
        if self.failures:
            self.failures -= 1
            raise StoreError("the disk is full")
        self.batches.append(len(records))
        return await super().add(records)


async def stored(store: MemoryLogStore) -> list[str]:
    return [r.message for r in (await store.search(workspace_id=None, limit=1000))[::-1]]


async def test_records_wait_in_the_queue_until_flushed_in_batches() -> None:
    store = RecordingStore()
    aggregator = LogAggregator(store, batch_size=4, queue_size=100)
    aggregator.attach()
    try:
        for i in range(10):
            log.info("line %d", i)
        assert await stored(store) == []  # nothing written on the logging call's path
        assert aggregator.stats.waiting == 10

        assert await aggregator.flush() == 10
    finally:
        aggregator.detach()

    assert store.batches == [4, 4, 2]
    assert await stored(store) == [f"line {i}" for i in range(10)]
    assert aggregator.stats == LogStats(
        queued=10, stored=10, dropped=0, waiting=0, failed_flushes=0
    )


async def test_a_full_queue_drops_and_counts() -> None:
    store = RecordingStore()
    aggregator = LogAggregator(store, queue_size=5)
    aggregator.attach()
    try:
        for i in range(8):
            log.warning("burst %d", i)
        await aggregator.flush()
    finally:
        aggregator.detach()

    assert await stored(store) == [f"burst {i}" for i in range(5)]
    assert (aggregator.stats.dropped, aggregator.stats.stored) == (3, 5)


async def test_a_refused_batch_is_tried_once_more_then_dropped() -> None:
    store = RecordingStore()
    aggregator = LogAggregator(store, batch_size=3)
    aggregator.attach()
    try:
        for i in range(3):
            log.info("kept %d", i)
        store.failures = 1
        assert await aggregator.flush() == 0
        assert aggregator.stats.waiting == 3
        assert await aggregator.flush() == 3  # the second try works

        log.info("lost")
        store.failures = 2
        await aggregator.flush()
        await aggregator.flush()
        log.info("after")
        await aggregator.flush()
    finally:
        aggregator.detach()

    assert await stored(store) == ["kept 0", "kept 1", "kept 2", "after"]
    assert aggregator.stats.dropped == 1
    assert aggregator.stats.failed_flushes == 3


async def test_the_level_filters_and_the_logger_level_is_restored() -> None:
    baton_logger = logging.getLogger("baton")
    before = baton_logger.level
    store = RecordingStore()
    async with LogAggregator(store, level=logging.WARNING) as aggregator:
        assert baton_logger.getEffectiveLevel() <= logging.WARNING
        log.info("too chatty")
        log.warning("kept")
        logging.getLogger("other.library").error("not ours")
        await aggregator.flush()
        assert aggregator.handler in baton_logger.handlers

    assert await stored(store) == ["kept"]
    assert aggregator.handler not in baton_logger.handlers
    assert baton_logger.level == before


async def test_the_flusher_writes_on_its_interval_and_at_once_when_a_batch_is_full() -> None:
    store = RecordingStore()
    async with LogAggregator(store, batch_size=5, flush_interval_s=0.05):
        log.info("one")
        with anyio.fail_after(5):
            await wait_until(lambda: bool(store.batches))
        assert await stored(store) == ["one"]

    store = RecordingStore()
    async with LogAggregator(store, batch_size=5, flush_interval_s=60):
        for i in range(5):
            log.info("full %d", i)
        with anyio.fail_after(5):  # far sooner than the 60 s interval
            await wait_until(lambda: bool(store.batches))
        assert store.batches == [5]


async def test_leaving_flushes_what_is_left_and_lets_the_error_through_unwrapped() -> None:
    store = RecordingStore()

    async def fails() -> None:
        async with LogAggregator(store, flush_interval_s=60):
            log.error("last words")
            raise NotFoundError("nothing here")

    with pytest.raises(NotFoundError, match="nothing here"):
        await fails()

    assert await stored(store) == ["last words"]


async def test_leaving_a_cancelled_scope_still_flushes() -> None:
    store = RecordingStore()
    with anyio.move_on_after(0.05):
        async with LogAggregator(store, flush_interval_s=60):
            log.error("before the cancel")
            await anyio.sleep_forever()

    assert await stored(store) == ["before the cancel"]


async def test_retention_purges_old_records_when_the_flusher_starts() -> None:
    clock = FakeClock(T0)
    store = MemoryLogStore()
    await store.add(
        [
            LogRecord(at=T0 - timedelta(days=31), level=20, logger="x", message="old"),
            LogRecord(at=T0 - timedelta(days=29), level=20, logger="x", message="recent"),
        ]
    )
    aggregator = LogAggregator(store, retention_days=30, clock=clock, flush_interval_s=0.01)
    async with aggregator:
        with anyio.fail_after(5):
            await wait_until(lambda: len(store._rows) == 1)  # pyright: ignore[reportPrivateUsage]

    assert await stored(store) == ["recent"]
    assert await LogAggregator(store).purge() == 0  # no retention: nothing goes


async def test_a_store_that_fails_to_purge_does_not_stop_the_flusher() -> None:
    class NoPurge(RecordingStore):
        async def purge(self, before: datetime) -> int:
            raise StoreError("locked")

    store = NoPurge()
    async with LogAggregator(store, retention_days=1, flush_interval_s=0.01):
        await anyio.sleep(0.05)
        log.info("still written")
        with anyio.fail_after(5):
            await wait_until(lambda: bool(store.batches))
    assert await stored(store) == ["still written"]


async def test_records_from_threads_are_collected() -> None:
    store = RecordingStore()
    async with LogAggregator(store) as aggregator:

        def work(i: int) -> None:
            log.info("from thread %d", i)

        async with anyio.create_task_group() as tg:
            for i in range(4):
                tg.start_soon(anyio.to_thread.run_sync, work, i)
        await aggregator.flush()

    assert sorted(await stored(store)) == [f"from thread {i}" for i in range(4)]


async def test_warnings_still_reach_stderr_when_nothing_else_handles_them(
    capsys: pytest.CaptureFixture[str],
) -> None:
    isolated = logging.getLogger("isolated.aggregator.test")
    isolated.propagate = False  # as the CLI's "baton" logger is: no handler up the chain
    try:
        aggregator = LogAggregator(MemoryLogStore(), loggers=["isolated.aggregator.test"])
        aggregator.attach()
        isolated.warning("the server's own warning")
        isolated.info("an info line")
        isolated.error("an engine record", extra={"baton_owner": object()})
        aggregator.detach()
        assert isolated.handlers == []
    finally:
        isolated.propagate = True

    err = capsys.readouterr().err
    assert "the server's own warning" in err
    assert "an info line" not in err
    assert "an engine record" not in err  # the CLI shows failures its own way


def test_json_stream_handler_writes_json_lines() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("baton.test.stream")
    handler = json_stream_handler(stream, level=logging.WARNING)
    logger.addHandler(handler)
    try:
        logger.info("not shown")
        logger.warning("shown with Bearer abcdefghijk")
    finally:
        logger.removeHandler(handler)

    [line] = stream.getvalue().splitlines()
    data = json.loads(line)
    assert (data["message"], data["level"]) == ("shown with Bearer [REDACTED]", "warning")
