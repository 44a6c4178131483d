"""Spans for the store transactions that matter: the event append (group commit), leases.

`TracedExecutionStore` wraps an `ExecutionStore` and delegates every call; the calls that
are a transaction worth seeing in a trace are timed (the group commit always, the rare ones
only while a recording span is current, inside a traced execution). One that took at least
``min_duration_s`` (``BATON_TRACE_STORE_MIN_MS``, 1 ms by default; 0 records all) or failed
becomes a span of the current trace (if any), made after the fact with its real start and
end: a quick commit (SQLite commits a step's events in a fraction of a millisecond) costs
two clock reads, and a slow one, the thing a trace is read for, is there. The spans are
`FastSpan`s (see `baton.observability.tracing_fast`) and are never made current (nothing
nests under them).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Sequence
from typing import TypeVar

from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from baton.events import RunEvent
from baton.observability.tracing_fast import SpanRecorder
from baton.store.delegating import DelegatingExecutionStore
from baton.store.protocol import ExecutionStore
from baton.store.records import (
    ExecutionRecord,
    StepRecord,
    StoredEvent,
)

__all__ = ["TracedExecutionStore"]

T = TypeVar("T")

_get_current_span = trace.get_current_span
_time_ns = time.time_ns


class TracedExecutionStore(DelegatingExecutionStore):
    """`ExecutionStore` over `inner` whose transactions are spans of the current trace."""

    def __init__(
        self,
        inner: ExecutionStore,
        tracer: Tracer,
        *,
        system: str | None = None,
        recorder: SpanRecorder | None = None,
        min_duration_s: float = 0.0,
    ) -> None:
        """Delegate to `inner`; make spans with `recorder` (cheap) or else `tracer`.

        Args:
            inner: The store that does the work.
            tracer: Makes the spans when there is no `recorder`.
            system: The database (``sqlite``, ``postgresql``), as ``db.system.name``; None
                for a store in memory.
            recorder: Makes the spans on the hot path (see `baton.observability.tracing_fast`).
            min_duration_s: Transactions quicker than this that succeed make no span.
        """
        super().__init__(inner)
        self._tracer = tracer
        self._system = system
        self._recorder = recorder
        self._min_ns = int(min_duration_s * 1e9)
        self._never_suspends = inner.append_never_suspends

    @property
    def append_never_suspends(self) -> bool:
        """As the inner store (read once: the executor asks at every commit)."""
        return self._never_suspends

    async def _traced(self, operation: str, call: Awaitable[T], count: int | None = None) -> T:
        parent = _get_current_span()
        if not parent.is_recording():
            return await call
        start = _time_ns()
        failed: BaseException | None = None
        try:
            return await call
        except BaseException as exc:
            failed = exc
            raise
        finally:
            end = _time_ns()
            if failed is not None or end - start >= self._min_ns:
                self._record(parent, operation, count, (start, end), failed)

    def _record(
        self,
        parent: Span,
        operation: str,
        count: int | None,
        times: tuple[int, int],
        failed: BaseException | None,
    ) -> None:
        """The span of a transaction that is over (slow enough to matter, or failed)."""
        attributes: dict[str, AttributeValue] = {"db.operation.name": operation}
        if self._system is not None:
            attributes["db.system.name"] = self._system
        if count is not None:
            attributes["baton.event_count"] = count
        name = f"store {operation}"
        start, end = times
        span: Span | None = None
        if self._recorder is not None:
            span = self._recorder.start(name, attributes, parent=parent, start_time=start)
        if span is None:
            span = self._tracer.start_span(name, attributes=attributes, start_time=start)
        if failed is not None:
            span.set_status(Status(StatusCode.ERROR, type(failed).__name__))
            span.set_attribute("error.type", type(failed).__name__)
        span.end(end_time=end)

    async def create_execution(
        self, execution: ExecutionRecord, steps: Sequence[StepRecord]
    ) -> None:
        """Insert the execution and its steps."""
        await self._traced("create_execution", self.inner.create_execution(execution, steps))

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        """Append (commit) a batch of events: one span per group commit.

        `_traced` written out, as this runs once per commit: a coroutine less, and the
        current span is looked up only for a commit that becomes a span (slow, or failed),
        not for every quick one. The commit runs in this task, so the span current after it
        is the one that was current before.
        """
        start = _time_ns()
        try:
            stored = await self.inner.append(events)
        except BaseException as exc:
            parent = _get_current_span()
            if parent.is_recording():
                self._record(parent, "append", len(events), (start, _time_ns()), exc)
            raise
        end = _time_ns()
        if end - start >= self._min_ns:
            parent = _get_current_span()
            if parent.is_recording():
                self._record(parent, "append", len(events), (start, end), None)
        return stored

    async def acquire_lease(
        self, execution_id: str, owner: str, ttl_s: float, *, take_from: str | None = None
    ) -> bool:
        """Take the execution's lease (a span)."""
        return await self._traced(
            "acquire_lease",
            self.inner.acquire_lease(execution_id, owner, ttl_s, take_from=take_from),
        )

    async def renew_lease(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        """Extend `owner`'s lease (a span)."""
        return await self._traced("renew_lease", self.inner.renew_lease(execution_id, owner, ttl_s))

    async def release_lease(self, execution_id: str, owner: str) -> None:
        """Give the lease up (a span)."""
        await self._traced("release_lease", self.inner.release_lease(execution_id, owner))
