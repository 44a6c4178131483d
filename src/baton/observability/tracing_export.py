"""Finished spans into the `TraceStore`: which execution a span belongs to, and the bridge.

**Ownership.** Only an execution's root span names the execution (``baton.execution_id``,
``baton.workspace_id``): copying those attributes onto every span would cost each step more
than the rest of its span. Instead `SpanOwners`, a span processor, notes when a span
starts that its parent belongs to an execution, so it does too (a dict lookup and store),
and the exporter takes each span's owner out of the map as it writes the span. A parent
ends after its children start, so an owner is always known when a child starts. Spans of
no execution (the API's own work, planning before an execution exists) are not kept in the
database; they still go to OTLP.

**Bridge.** `SpanExporter.export` runs on the batch processor's worker thread, while the
stores are async and bound to the event loop that opened them. `StoreSpanExporter` hands
each batch to the loop (`anyio.from_thread.run` with the loop's token) and waits for it to
be written: one transaction per batch, no database work on the executor's hot path, and the
same `Database` (and error translation) as every other store. The loop must therefore never
block waiting for the exporter: `Tracing.flush` and `Tracing.shutdown` run the provider's
flush in a worker thread. A batch exported on the loop's own thread (someone called
``force_flush`` there) is kept and written with the next batch instead of deadlocking.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence

import anyio.from_thread
from anyio.lowlevel import EventLoopToken
from opentelemetry.context import Context
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from baton.observability.tracing_fast import (
    KIND_NAMES,
    STATUS_NAMES,
    FastSpan,
    Hexes,
    plain_attributes,
)
from baton.store.traces import SpanEventRecord, SpanRecord, TraceStore

__all__ = ["EXECUTION_ID", "WORKSPACE_ID", "SpanOwners", "StoreSpanExporter", "span_record"]

log = logging.getLogger("baton.observability.tracing")

EXECUTION_ID = "baton.execution_id"
"""Attribute of an execution's root span: the execution's id."""
WORKSPACE_ID = "baton.workspace_id"
"""Attribute of an execution's root span: its workspace."""

Owner = tuple[str, str]
"""An execution id and its workspace id."""


class SpanOwners(SpanProcessor):
    """Notes, as each span starts, the execution it belongs to (see the module docstring)."""

    def __init__(self) -> None:
        """Start with no spans."""
        self.owners: dict[int, Owner] = {}
        """Span id -> its execution; an entry leaves when the exporter takes the span."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Inherit the parent's execution, or take the one a root span names."""
        owners = self.owners
        # Span contexts are tuples (trace id, span id, ...): indexed rather than read
        # through their properties, as this runs for every span.
        span_id = span.get_span_context()[1]
        parent = span.parent
        if parent is not None:
            owner = owners.get(parent[1])
            if owner is not None:
                owners[span_id] = owner
                return
        attributes = span.attributes
        if attributes is None:
            return
        execution_id = attributes.get(EXECUTION_ID)
        workspace_id = attributes.get(WORKSPACE_ID)
        if isinstance(execution_id, str) and isinstance(workspace_id, str):
            owners[span_id] = (execution_id, workspace_id)

    # No ``on_end``: the exporter takes the owner (and the SDK's no-op is skipped by the
    # span recorder, which calls only the methods a processor overrides).

    def shutdown(self) -> None:
        """Nothing to do: the exporter, shut down after this, still needs the owners."""

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here."""
        return True


def span_record(span: ReadableSpan, owner: Owner, hexes: Hexes | None = None) -> SpanRecord | None:
    """A finished span as the trace store keeps it (None for a span without a context).

    `hexes` caches hex forms across a batch, whose spans share a few traces and parents.
    This runs once per span kept (on the exporter's thread, which holds the GIL meanwhile,
    so it slows the event loop down), and most spans kept are `FastSpan`s: those make their
    record from their fields (`FastSpan.to_record`); others are read through `ReadableSpan`.
    """
    if hexes is None:
        hexes = ({}, {})
    if type(span) is FastSpan:  # the attempts' and store transactions' spans: the fast path
        return span.to_record(owner, hexes)
    context = span.get_span_context()
    if context is None:
        return None
    traces, parents = hexes
    trace_int, span_int = context[0], context[1]
    if (trace_id := traces.get(trace_int)) is None:
        trace_id = traces[trace_int] = f"{trace_int:032x}"
    parent = span.parent
    parent_id: str | None = None
    if parent is not None:
        parent_int = parent[1]
        if (parent_id := parents.get(parent_int)) is None:
            parent_id = parents[parent_int] = f"{parent_int:016x}"
    status = span.status
    events = span.events
    start = span.start_time or 0
    return SpanRecord(
        trace_id=trace_id,
        span_id=f"{span_int:016x}",
        parent_span_id=parent_id,
        execution_id=owner[0],
        workspace_id=owner[1],
        name=span.name,
        kind=KIND_NAMES.get(span.kind, "internal"),
        start_ns=start,
        end_ns=span.end_time or start,
        status=STATUS_NAMES.get(status.status_code, "unset"),
        status_message=status.description,
        attributes=plain_attributes(span.attributes),
        events=tuple(map(_event, events)) if events else (),
    )


def _event(event: Event) -> SpanEventRecord:
    return SpanEventRecord(
        name=event.name, time_ns=event.timestamp, attributes=plain_attributes(event.attributes)
    )


class StoreSpanExporter(SpanExporter):
    """Writes the finished spans of executions to a `TraceStore`, through the event loop."""

    def __init__(self, store: TraceStore, owners: SpanOwners, token: EventLoopToken) -> None:
        """Keep spans `owners` knows the execution of in `store`, on the loop of `token`.

        Args:
            store: Where spans are kept.
            owners: The processor that notes each span's execution (added to the same
                provider, before the batch processor of this exporter).
            token: The event loop the store belongs to (`anyio.lowlevel.current_token`).
        """
        self._store = store
        self._owners = owners.owners
        self._token = token
        self._loop_thread = threading.get_ident()
        self._pending: list[SpanRecord] = []
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the batch's spans of executions (called on the batch processor's thread)."""
        if self._closed:
            return SpanExportResult.FAILURE
        take = self._owners.pop
        records = list(self._pending)
        hexes: Hexes = ({}, {})
        for span in spans:
            context = span.get_span_context()
            owner = take(context.span_id, None) if context is not None else None
            if owner is None:
                continue
            record = span_record(span, owner, hexes)
            if record is not None:
                records.append(record)
        if not records:
            return SpanExportResult.SUCCESS
        if threading.get_ident() == self._loop_thread:
            self._pending = records  # waiting here would block the loop that must write them
            return SpanExportResult.SUCCESS
        self._pending = []
        try:
            anyio.from_thread.run(self._store.add, records, token=self._token)
        except Exception as exc:
            log.warning("could not keep %d span(s) in the trace store: %s", len(records), exc)
            return SpanExportResult.FAILURE
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Write nothing more (called after the batch processor's last export)."""
        self._closed = True
        self._owners.clear()
        if self._pending:
            log.warning("%d span(s) were not kept: the trace store closed", len(self._pending))
            self._pending = []

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Nothing is buffered here (the batch processor holds the spans)."""
        return True
