"""Finished spans into the `TraceStore`: which execution a span belongs to, the queue, the bridge.

`TraceStoreProcessor` is the span processor that keeps the spans of executions. It stands
in for the SDK's ``BatchSpanProcessor`` (plus an owners' processor and an exporter), which
cost a step attempt about a microsecond more in a run: a ``getpid`` and half a dozen
property reads per span.

**Ownership.** Only an execution's root span names the execution (``baton.execution_id``,
``baton.workspace_id``): copying those attributes onto every span would cost each step more
than the rest of its span. The attempts' spans (`FastSpan`s made by the tracing interceptor,
which knows the execution) carry it in a field (`FastSpan.owner`), as do recorder spans
started under them: those skip `on_start` altogether (``reads_owner``). For any other span
the processor notes when it starts that its parent belongs to an execution, so it does too
(a dict lookup and store; a parent that is an attempt's span is found in the start's
context); the worker takes the owner back out as it writes the span. A parent ends after
its children start, so an owner is always known when a child starts. Spans of no execution
(the API's own work, planning before an execution exists) are dropped as they end; they
still go to OTLP.

**Queue.** A span of an execution is appended to a plain deque as it ends (the span alone:
a tuple with its owner would be one more object per span for the garbage collector);
a worker thread takes the queue every second (``OTEL_BSP_SCHEDULE_DELAY``), as soon as it
holds a batch (``OTEL_BSP_MAX_EXPORT_BATCH_SIZE``), and on a flush or shutdown. A full
queue (``OTEL_BSP_MAX_QUEUE_SIZE``) drops the spans that do not fit, with a warning: a slow
store never holds a step up.

**Bridge.** The worker makes the records (`span_record`) and hands each batch to the event
loop the store belongs to (`anyio.from_thread.run` with the loop's token), waiting for it to
be written: one transaction per batch, no database work on the executor's hot path, and the
same `Database` (and error translation) as every other store. The loop must therefore never
wait for the worker: `Tracing.flush` and `Tracing.shutdown` run the provider's flush in a
worker thread, and a ``force_flush`` called on the loop's own thread only wakes the worker.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence

import anyio.from_thread
from anyio.lowlevel import EventLoopToken
from opentelemetry.context import Context, get_current
from opentelemetry.sdk.trace import Event, ReadableSpan, Span, SpanProcessor
from opentelemetry.trace import TraceFlags
from opentelemetry.trace.propagation import _SPAN_KEY  # pyright: ignore[reportPrivateUsage]

from baton.observability.tracing_fast import (
    KIND_NAMES,
    STATUS_NAMES,
    FastSpan,
    Hexes,
    Owner,
    plain_attributes,
)
from baton.store.traces import SpanEventRecord, SpanRecord, TraceStore

__all__ = ["EXECUTION_ID", "WORKSPACE_ID", "Owner", "TraceStoreProcessor", "span_record"]

log = logging.getLogger("baton.observability.tracing")

EXECUTION_ID = "baton.execution_id"
"""Attribute of an execution's root span: the execution's id."""
WORKSPACE_ID = "baton.workspace_id"
"""Attribute of an execution's root span: its workspace."""


def _owner_in_context(context: Context | None, parent_id: int) -> Owner | None:
    """The execution of the parent span `parent_id`, if that span says it itself.

    That is, when it is the current span of `context` (of the current context for None)
    and a `FastSpan` with an owner: an SDK span (an HTTP call's, a model call's) started
    within a step attempt.
    """
    span = (context if context is not None else get_current()).get(_SPAN_KEY)
    if type(span) is FastSpan and span.context[1] == parent_id:
        return span.owner
    return None


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


_SAMPLED = TraceFlags.SAMPLED


class TraceStoreProcessor(SpanProcessor):
    """Keeps the finished spans of executions in a `TraceStore` (see the module docstring)."""

    reads_owner = True
    """A `FastSpan` that knows its execution (`FastSpan.owner`: the attempts' spans) is not
    handed to `on_start` (`SpanRecorder.on_start_owned`): its owner is read as it ends."""

    def __init__(
        self,
        store: TraceStore,
        token: EventLoopToken,
        *,
        max_queue_size: int = 32768,
        schedule_delay_s: float = 1.0,
        max_batch_size: int = 2048,
    ) -> None:
        """Keep spans in `store`, written on the loop of `token`; starts the worker thread.

        Args:
            store: Where spans are kept.
            token: The event loop the store belongs to (`anyio.lowlevel.current_token`).
            max_queue_size: Spans waiting beyond this are dropped (a store that keeps up
                never gets near: the default holds a 10,000-step burst's spans).
            schedule_delay_s: How long a span may wait before the worker writes it.
            max_batch_size: The most spans written in one transaction; a queue this long
                wakes the worker at once.
        """
        if max_queue_size < 1 or max_batch_size < 1 or schedule_delay_s <= 0:
            raise ValueError("queue size, batch size and delay must be positive")
        self.owners: dict[int, Owner] = {}
        """Span id -> its execution, for the spans of executions not written yet."""
        self._store = store
        self._token = token
        self._loop_thread = threading.get_ident()
        self._max_queue = max_queue_size
        self._delay_s = schedule_delay_s
        self._batch = max_batch_size
        self._queue: deque[ReadableSpan] = deque()
        self._dropped = 0
        self._closed = False
        self._wake = threading.Event()
        self._lock = threading.Lock()  # guards `_flushes` (the hot path takes no lock)
        self._flushes: list[threading.Event] = []
        self._worker = threading.Thread(target=self._work, name="baton-trace-store", daemon=True)
        self._worker.start()

    # -- on the threads that make spans (the event loop's, mostly) ---------------------------

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Inherit the parent's execution, or take the one a root span names."""
        # Span contexts are tuples (trace id, span id, remote, flags, ...): indexed rather
        # than read through their properties, as this runs for every span.
        if type(span) is FastSpan:  # pyright: ignore[reportUnnecessaryComparison]
            context, parent = span._context, span._parent  # pyright: ignore[reportPrivateUsage]
        else:
            context, parent = span.get_span_context(), span.parent
        if not context[3] & _SAMPLED:  # recorded but not sampled: not exported either
            return
        owners = self.owners
        if parent is not None:
            owner = owners.get(parent[1]) or _owner_in_context(parent_context, parent[1])
            if owner is not None:
                owners[context[1]] = owner
                return
        attributes = span.attributes
        if attributes is None:
            return
        execution_id = attributes.get(EXECUTION_ID)
        workspace_id = attributes.get(WORKSPACE_ID)
        if isinstance(execution_id, str) and isinstance(workspace_id, str):
            owners[context[1]] = (execution_id, workspace_id)

    def on_end(self, span: ReadableSpan) -> None:
        """Queue a span of an execution for the worker; drop any other."""
        if self._closed:
            return
        if type(span) is FastSpan and span._owner is not None:  # pyright: ignore[reportPrivateUsage]
            context = None  # most spans (attempts'): they say their execution themselves
        else:
            context = span.get_span_context()
            if context is None or context[1] not in self.owners:
                return
        queue = self._queue
        if len(queue) >= self._max_queue:
            if context is not None:
                self.owners.pop(context[1], None)
            self._dropped += 1  # counted, and reported by the worker (never log on this path)
            return
        queue.append(span)
        if len(queue) == self._batch:  # each crossing passes through equality: one wake
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """Write every span queued so far; False if that took longer than `timeout_millis`.

        On the event loop's own thread it only wakes the worker: waiting there would block
        the loop that must write the spans.
        """
        if self._closed or not self._worker.is_alive():
            return not self._queue
        if threading.get_ident() == self._loop_thread:
            self._wake.set()
            return False
        done = threading.Event()
        with self._lock:
            self._flushes.append(done)
        self._wake.set()
        return done.wait(timeout_millis / 1000)

    def shutdown(self) -> None:
        """Write what is queued, then stop the worker (it waits at most 30 s for the store)."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        if threading.get_ident() == self._loop_thread:
            return  # the worker writes what is queued once the loop is free again
        self._worker.join(30.0)
        if self._worker.is_alive():
            return  # still writing (a slow store): it stops after this batch
        self.owners.clear()
        if self._queue:
            log.warning("%d span(s) were not kept: the trace store closed", len(self._queue))
            self._queue.clear()

    # -- on the worker thread ----------------------------------------------------------------

    def _work(self) -> None:
        """Write the queue every `schedule_delay_s`, when woken, and once more at the end."""
        while True:
            self._wake.wait(self._delay_s)
            self._wake.clear()
            closing = self._closed
            with self._lock:
                flushes, self._flushes = self._flushes, []
            # Flushes taken before the queue is: every span queued before they asked is in.
            try:
                self._write_queue()
            except Exception:  # a bug here must not stop the worker (spans would pile up)
                log.exception("could not keep spans in the trace store")
            for done in flushes:
                done.set()
            if closing:
                return

    def _write_queue(self) -> None:
        queue, take = self._queue, self._queue.popleft
        while queue:
            batch = [take() for _ in range(min(len(queue), self._batch))]
            self._write(batch)
        if self._dropped:
            dropped, self._dropped = self._dropped, 0
            log.warning("%d span(s) were dropped: the trace store fell behind", dropped)

    def _write(self, batch: Sequence[ReadableSpan]) -> None:
        hexes: Hexes = ({}, {})
        records: list[SpanRecord] = []
        take = self.owners.pop
        for span in batch:
            owner = span.owner if type(span) is FastSpan else None
            if owner is None:
                context = span.get_span_context()
                owner = take(context[1], None) if context is not None else None
            if owner is None:  # the store closed meanwhile
                continue
            record = span_record(span, owner, hexes)
            if record is not None:
                records.append(record)
        if not records:
            return
        try:
            anyio.from_thread.run(self._store.add, records, token=self._token)
        except Exception as exc:  # the store failed, or its loop is gone
            log.warning("could not keep %d span(s) in the trace store: %s", len(records), exc)
