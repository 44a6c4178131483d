"""The kept spans of an execution as the API and ``baton traces show --json`` give them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from baton.store.traces import SpanRecord, span_tree
from baton.wire import SpanEventOut, SpanOut, TraceOut

__all__ = ["trace_out"]


def _time(ns: int) -> datetime:
    seconds, rest = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).replace(microsecond=rest // 1000)


def trace_out(execution_id: str, spans: Iterable[SpanRecord]) -> TraceOut:
    """The spans depth first, with their depth, times as UTC datetimes and durations."""
    return TraceOut(
        execution_id=execution_id,
        spans=[
            SpanOut(
                trace_id=node.span.trace_id,
                span_id=node.span.span_id,
                parent_span_id=node.span.parent_span_id,
                name=node.span.name,
                kind=node.span.kind,
                depth=node.depth,
                start=_time(node.span.start_ns),
                end=_time(node.span.end_ns),
                duration_s=node.span.duration_s,
                status=node.span.status,
                status_message=node.span.status_message,
                attributes=node.span.attributes,
                events=[
                    SpanEventOut(name=e.name, at=_time(e.time_ns), attributes=e.attributes)
                    for e in node.span.events
                ],
            )
            for node in span_tree(spans)
        ],
    )
