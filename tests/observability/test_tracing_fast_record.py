"""A `FastSpan` becomes the same `SpanRecord` as an SDK span with the same content."""

from __future__ import annotations

import dataclasses

import anyio
import pytest
from anyio.lowlevel import current_token
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Span, Status, StatusCode

from baton.observability.tracing_export import TraceStoreProcessor, span_record
from baton.observability.tracing_fast import FastSpan, SpanRecorder
from baton.store.traces import MemoryTraceStore, SpanRecord

OWNER = ("ex_1", "ws_1")


def _recorder(provider: TracerProvider, processors: list[object] | None = None) -> SpanRecorder:
    return SpanRecorder(
        processors or [],  # pyright: ignore[reportArgumentType]
        resource=provider.resource,
        id_generator=provider.id_generator,
        scope=InstrumentationScope("baton"),
        redact=lambda text: text,
    )


def _fill(span: Span) -> None:
    span.set_attribute("baton.tags", ("a", "b"))
    span.add_event("step_retrying", {"baton.attempt": 1, "baton.rungs": ("x", "y")}, 5)
    span.set_status(Status(StatusCode.ERROR, "ValueError: boom"))
    span.end(end_time=9)


def _normalized(record: SpanRecord) -> SpanRecord:
    return dataclasses.replace(record, span_id="-")


def test_a_fast_span_and_an_sdk_span_make_the_same_record() -> None:
    provider = TracerProvider()
    tracer = provider.get_tracer("baton")
    root = tracer.start_span("execution")
    attributes = {"baton.step_id": "s1", "baton.attempt": 2}
    fast = _recorder(provider).start("step s1", dict(attributes), parent=root, start_time=3)
    assert isinstance(fast, FastSpan)
    sdk = tracer.start_span(
        "step s1",
        context=trace.set_span_in_context(root),
        attributes=attributes,
        start_time=3,
    )
    _fill(fast)
    _fill(sdk)

    from_fast = span_record(fast, OWNER)
    from_sdk = span_record(sdk, OWNER)  # pyright: ignore[reportArgumentType]  # an SDK Span
    assert from_fast is not None
    assert from_sdk is not None
    assert _normalized(from_fast) == _normalized(from_sdk)
    assert from_fast.span_id == f"{fast.get_span_context().span_id:016x}"
    assert from_fast.parent_span_id == f"{root.get_span_context().span_id:016x}"
    assert from_fast.trace_id == f"{root.get_span_context().trace_id:032x}"
    assert (from_fast.execution_id, from_fast.workspace_id) == OWNER
    assert from_fast.status == "error"
    assert from_fast.status_message == "ValueError: boom"
    assert from_fast.attributes["baton.tags"] == ["a", "b"]  # JSON lists, not tuples
    assert from_fast.events[0].attributes == {"baton.attempt": 1, "baton.rungs": ["x", "y"]}
    assert (from_fast.start_ns, from_fast.end_ns, from_fast.kind) == (3, 9, "internal")


def test_the_record_is_a_copy_of_the_spans_attributes() -> None:
    provider = TracerProvider()
    root = provider.get_tracer("baton").start_span("execution")
    fast = _recorder(provider).start("step s1", {"baton.step_id": "s1"}, parent=root)
    assert fast is not None
    fast.end()
    record = span_record(fast, OWNER)
    assert record is not None
    record.attributes["changed"] = True
    assert "changed" not in fast.attributes


@pytest.mark.anyio
async def test_the_recorder_skips_processors_whose_on_start_does_nothing() -> None:
    provider = TracerProvider()
    traces = MemoryTraceStore()
    keeper = TraceStoreProcessor(traces, current_token())
    exporter = InMemorySpanExporter()
    batch = BatchSpanProcessor(exporter)
    simple = SimpleSpanProcessor(exporter)
    try:
        recorder = _recorder(provider, [keeper, batch, simple])
        assert recorder.on_start == (keeper.on_start,)
        assert recorder.on_end == (keeper.on_end, batch.on_end, simple.on_end)
        root = provider.get_tracer("baton").start_span(
            "execution", attributes={"baton.execution_id": "ex_1", "baton.workspace_id": "ws_1"}
        )
        keeper.on_start(root)  # pyright: ignore[reportArgumentType]
        span = recorder.start("step s1", {}, parent=root)
        assert span is not None
        span_id = span.get_span_context().span_id
        assert keeper.owners[span_id] == OWNER
        span.end()
        assert [s.name for s in exporter.get_finished_spans()] == ["step s1"]
        assert await anyio.to_thread.run_sync(keeper.force_flush)
        assert span_id not in keeper.owners  # taken back as it was written
        kept = await traces.spans("ex_1")
        assert [(s.name, s.workspace_id) for s in kept] == [("step s1", "ws_1")]
    finally:
        batch.shutdown()
        await anyio.to_thread.run_sync(keeper.shutdown)
