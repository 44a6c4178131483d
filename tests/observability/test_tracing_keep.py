"""`TraceStoreProcessor`: spans of executions queued off the hot path and kept in the store."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

import anyio
import pytest
from anyio.lowlevel import current_token
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from baton.observability.tracing import setup_tracing
from baton.observability.tracing_export import EXECUTION_ID, WORKSPACE_ID, TraceStoreProcessor
from baton.settings import Settings
from baton.store.traces import MemoryTraceStore, SpanRecord

pytestmark = pytest.mark.anyio


class BlockedStore(MemoryTraceStore):
    """A trace store whose writes wait until `release` is set (a slow database)."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = anyio.Event()
        self.release = anyio.Event()

    async def add(self, spans: Sequence[SpanRecord]) -> None:
        self.entered.set()
        await self.release.wait()
        await super().add(spans)


class WatchedStore(MemoryTraceStore):
    """A trace store that tells when it holds `target` spans."""

    def __init__(self, target: int) -> None:
        super().__init__()
        self.target = target
        self.count = 0
        self.reached = anyio.Event()

    async def add(self, spans: Sequence[SpanRecord]) -> None:
        await super().add(spans)
        self.count += len(spans)
        if self.count >= self.target:
            self.reached.set()


def _tracer(processor: TraceStoreProcessor) -> Tracer:
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider.get_tracer("test")


def _execution(tracer: Tracer, children: int = 1) -> None:
    """A root span of execution ex_1 (workspace ws_1) with `children` child spans."""
    root = tracer.start_span("execution", attributes={EXECUTION_ID: "ex_1", WORKSPACE_ID: "ws_1"})
    context = trace.set_span_in_context(root)
    for i in range(children):
        tracer.start_span(f"step s{i}", context=context).end()
    root.end()


async def _names(store: MemoryTraceStore) -> list[str]:
    return sorted(s.name for s in await store.spans("ex_1"))


async def test_spans_of_an_execution_are_kept_and_others_dropped() -> None:
    store = MemoryTraceStore()
    processor = TraceStoreProcessor(store, current_token())
    tracer = _tracer(processor)
    try:
        with tracer.start_as_current_span("GET /health"):  # no execution: not kept
            pass
        _execution(tracer, children=2)
        assert await anyio.to_thread.run_sync(processor.force_flush)
        kept = await store.spans("ex_1")
        assert sorted(s.name for s in kept) == ["execution", "step s0", "step s1"]
        assert {(s.execution_id, s.workspace_id) for s in kept} == {("ex_1", "ws_1")}
        assert processor.owners == {}  # every owner taken back as its span was written
    finally:
        await anyio.to_thread.run_sync(processor.shutdown)


async def test_shutdown_writes_what_is_queued() -> None:
    store = MemoryTraceStore()
    processor = TraceStoreProcessor(store, current_token(), schedule_delay_s=3600)
    _execution(_tracer(processor))
    assert await _names(store) == []  # queued: the worker waits for its delay
    await anyio.to_thread.run_sync(processor.shutdown)
    assert await _names(store) == ["execution", "step s0"]


async def test_a_full_batch_is_written_without_waiting_for_the_delay() -> None:
    store = WatchedStore(target=2)
    processor = TraceStoreProcessor(store, current_token(), schedule_delay_s=3600, max_batch_size=2)
    try:
        _execution(_tracer(processor))
        with anyio.fail_after(5):
            await store.reached.wait()
    finally:
        await anyio.to_thread.run_sync(processor.shutdown)


async def test_a_slow_store_never_holds_span_ends_up(caplog: pytest.LogCaptureFixture) -> None:
    store = BlockedStore()
    processor = TraceStoreProcessor(store, current_token(), schedule_delay_s=0.01, max_queue_size=5)
    tracer = _tracer(processor)
    try:
        started = time.perf_counter()
        _execution(tracer, children=2)  # the worker takes these and waits for the store
        with anyio.fail_after(5):
            await store.entered.wait()
        _execution(tracer, children=20)  # the queue holds 5: the rest is dropped
        assert time.perf_counter() - started < 1.0
        store.release.set()
        with caplog.at_level(logging.WARNING, "baton.observability.tracing"):
            assert await anyio.to_thread.run_sync(processor.force_flush)
        assert len(await store.spans("ex_1")) == 3 + 5
        assert "span(s) were dropped" in caplog.text
        assert processor.owners == {}
    finally:
        await anyio.to_thread.run_sync(processor.shutdown)


async def test_a_flush_on_the_loops_thread_does_not_wait_for_the_loop() -> None:
    store = WatchedStore(target=2)
    processor = TraceStoreProcessor(store, current_token(), schedule_delay_s=3600)
    try:
        _execution(_tracer(processor))
        assert processor.force_flush(timeout_millis=10_000) is False  # returns at once
        with anyio.fail_after(5):  # ...and the worker writes once the loop is free
            await store.reached.wait()
    finally:
        await anyio.to_thread.run_sync(processor.shutdown)


async def test_spans_ended_after_shutdown_are_not_queued() -> None:
    store = MemoryTraceStore()
    processor = TraceStoreProcessor(store, current_token())
    tracer = _tracer(processor)
    root = tracer.start_span("execution", attributes={EXECUTION_ID: "ex_1", WORKSPACE_ID: "ws_1"})
    await anyio.to_thread.run_sync(processor.shutdown)
    root.end()
    assert processor.force_flush() is True
    assert await _names(store) == []


def test_sizes_and_delay_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        TraceStoreProcessor(MemoryTraceStore(), None, max_batch_size=0)  # pyright: ignore[reportArgumentType]


async def test_setup_reads_the_batch_size_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "1")
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "soon")  # not a number: the default, warned
    store = WatchedStore(target=2)
    with caplog.at_level(logging.WARNING, "baton.observability.tracing"):
        tracing = setup_tracing(Settings(_env_file=None), store)  # type: ignore[call-arg]
    assert "OTEL_BSP_SCHEDULE_DELAY" in caplog.text
    try:
        _execution(tracing.tracer)  # a batch of 1: written at once, without a flush
        with anyio.fail_after(5):
            await store.reached.wait()
    finally:
        await tracing.shutdown()
