"""Spans for the hot path: a step attempt and a store transaction for a few microseconds.

The SDK's `Tracer.start_span` costs about 15 us (sampler, attribute cleaning, a lock and
bounded containers per span): as much as a whole no-op step. The executor makes one span
per step attempt and one per group commit, so those two are made here instead, by a
`SpanRecorder`: a `FastSpan` is a complete, recording OpenTelemetry span (it can be made
current, agents may set attributes and add events on it) whose parent is the current span;
it is a `ReadableSpan` too, so when it ends it is handed as it is to the same span
processors as every other span (the trace store's processor, the batch exporter to OTLP,
test exporters). Processors whose ``on_start`` or ``on_end`` is a no-op (an SDK export
processor's start) are not called at all.

What it leaves out, by design: the sampler (a child takes its sampled parent's decision, as
the default parent-based sampler would; under a parent that is not sampled, or no parent,
the recorder makes no span), span limits (baton's spans have a handful of attributes) and
links.
"""

from __future__ import annotations

import random
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan, SpanProcessor
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.id_generator import IdGenerator, RandomIdGenerator
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes, AttributeValue

from baton.store.traces import SpanEventRecord, SpanRecord, SpanStatus

__all__ = [
    "KIND_NAMES",
    "STATUS_NAMES",
    "FastSpan",
    "Hexes",
    "Owner",
    "SpanRecorder",
    "plain_attributes",
]

_PRIMITIVES = (str, bool, int, float)
_UNSET = Status(StatusCode.UNSET)
_INTERNAL = SpanKind.INTERNAL
_SAMPLED = TraceFlags.SAMPLED
_new_context: Callable[[type[SpanContext], tuple[object, ...]], SpanContext] = tuple.__new__  # pyright: ignore[reportUnknownMemberType, reportAssignmentType, reportUnknownVariableType]
_time_ns = time.time_ns
_new_span = object.__new__
_getrandbits = random.getrandbits
# ``on_start`` methods that do nothing: the base class's, and the SDK's export processors'
# (each overrides it with a bare ``pass``); a call skipped is a call less per span.
_NO_OP_STARTS = frozenset(
    {SpanProcessor.on_start, SimpleSpanProcessor.on_start, BatchSpanProcessor.on_start}
)


Hexes = tuple[dict[int, str], dict[int, str]]
"""Caches of the hex forms of trace ids and of parent span ids."""

Owner = tuple[str, str]
"""An execution id and its workspace id: the execution a span belongs to."""

KIND_NAMES: dict[SpanKind, str] = {
    SpanKind.INTERNAL: "internal",
    SpanKind.CLIENT: "client",
    SpanKind.SERVER: "server",
    SpanKind.PRODUCER: "producer",
    SpanKind.CONSUMER: "consumer",
}
STATUS_NAMES: dict[StatusCode, SpanStatus] = {
    StatusCode.UNSET: "unset",
    StatusCode.OK: "ok",
    StatusCode.ERROR: "error",
}
"""A span's kind and status as the trace store spells them."""


def plain_attributes(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """Span or event attributes as JSON values: a copy, sequences as lists."""
    if not attributes:
        return {}
    plain = dict(attributes)
    for key, value in plain.items():
        if type(value) is tuple:  # a sequence attribute: JSON has lists
            plain[key] = list(value)  # pyright: ignore[reportUnknownArgumentType]
    return plain


def _event_record(event: Event) -> SpanEventRecord:
    return SpanEventRecord(
        name=event.name, time_ns=event.timestamp, attributes=plain_attributes(event.attributes)
    )


def _valid(value: object) -> bool:
    if isinstance(value, _PRIMITIVES):
        return True
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        items: Sequence[object] = value  # pyright: ignore[reportUnknownVariableType]
        return all(isinstance(v, _PRIMITIVES) for v in items)
    return False


class SpanRecorder:
    """Makes `FastSpan`s for the provider whose resource, ids and processors it shares."""

    def __init__(
        self,
        processors: Sequence[SpanProcessor],
        *,
        resource: Resource,
        id_generator: IdGenerator,
        scope: InstrumentationScope,
        redact: Callable[[str], str],
    ) -> None:
        """Record spans into `processors` (the same ones as the provider's, in its order).

        Args:
            processors: Get ``on_start`` and ``on_end`` of each span (where they do
                something: a method the processor does not override is not called).
            resource: The provider's resource.
            id_generator: The provider's id generator.
            scope: The instrumentation scope of the spans.
            redact: Masks secrets in recorded exception messages.
        """
        self.on_start = tuple(
            p.on_start for p in processors if type(p).on_start not in _NO_OP_STARTS
        )
        """The processors' ``on_start`` that do something."""
        self.on_start_owned = tuple(
            p.on_start
            for p in processors
            if type(p).on_start not in _NO_OP_STARTS and not getattr(p, "reads_owner", False)
        )
        """Those for a span whose execution its maker knows (`FastSpan.owner`): less the
        processors that read it from the span (their ``reads_owner`` is True)."""
        self.on_end = tuple(
            p.on_end for p in processors if type(p).on_end is not SpanProcessor.on_end
        )
        """The processors' ``on_end`` that do something."""
        self.resource = resource
        self.id_generator = id_generator
        self._random_ids = type(id_generator) is RandomIdGenerator
        self.scope = scope
        self.redact = redact

    def start(
        self,
        name: str,
        attributes: dict[str, AttributeValue],
        *,
        parent: trace.Span | None = None,
        parent_context: SpanContext | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        start_time: int | None = None,
    ) -> FastSpan | None:
        """A span started now (or at `start_time`), child of `parent` (default: the current span).

        `parent_context`, when given, is the parent's context, read once by the caller: `parent`
        is then not read. A child of a `FastSpan` that knows its execution knows it too.
        Returns None when there is no sampled parent span in this process to hang it on.
        """
        if parent_context is None:
            if parent is None:
                parent = trace.get_current_span()
            parent_context = parent.get_span_context()
        owner = parent.owner if type(parent) is FastSpan else None
        return self.start_child(name, attributes, parent_context, owner, kind, start_time)

    def start_child(
        self,
        name: str,
        attributes: dict[str, AttributeValue],
        parent_context: SpanContext,
        owner: Owner | None = None,
        kind: SpanKind = _INTERNAL,
        start_time: int | None = None,
    ) -> FastSpan | None:
        """`start` under `parent_context`, by position: the attempts' spans (once per attempt).

        `owner` is the execution the span belongs to (`FastSpan.owner`), when the caller
        knows it: the processors that read it there (``reads_owner``) get no ``on_start``.
        """
        # A SpanContext is a tuple: unpacked at once rather than through six properties.
        trace_id, _, _, flags, state, valid = parent_context
        if not (valid and flags & _SAMPLED):
            return None
        # Made as `SpanContext.__new__` makes it, less its validity check: the ids are valid
        # (the parent's, and a generator's, which never gives the invalid span id 0).
        if self._random_ids:  # `RandomIdGenerator.generate_span_id`, without its call
            span_id = _getrandbits(64)
            while not span_id:  # 0 is the invalid span id
                span_id = _getrandbits(64)
        else:
            span_id = self.id_generator.generate_span_id()
        context = _new_context(SpanContext, (trace_id, span_id, False, flags, state, True))
        # Fields set here rather than by an ``__init__``: a call less per attempt.
        span = _new_span(FastSpan)
        span._recorder = self  # pyright: ignore[reportPrivateUsage]
        span._name = name  # pyright: ignore[reportPrivateUsage]
        span._context = context  # pyright: ignore[reportPrivateUsage]
        span._parent = parent_context  # pyright: ignore[reportPrivateUsage]
        span._attributes = attributes  # pyright: ignore[reportPrivateUsage]
        span._start_time = _time_ns() if start_time is None else start_time  # pyright: ignore[reportPrivateUsage]
        span._owner = owner  # pyright: ignore[reportPrivateUsage]
        if kind is not _INTERNAL:
            span._kind = kind  # pyright: ignore[reportPrivateUsage]
        for on_start in self.on_start if owner is None else self.on_start_owned:
            on_start(span)  # pyright: ignore[reportArgumentType]  # a Span in all but type
        return span


class FastSpan(trace.Span, ReadableSpan):
    """A recording span without the SDK's per-span machinery (see the module docstring).

    Its fields have `ReadableSpan`'s names, so that the SDK's exporters (and
    ``ReadableSpan.to_json``) read it as they read any finished span. Made by
    `SpanRecorder.start` and `SpanRecorder.start_child` only, which set its fields.
    """

    __slots__ = (
        "_attributes",
        "_context",
        "_name",
        "_owner",
        "_parent",
        "_recorder",
        "_start_time",
    )
    _attributes: dict[str, AttributeValue]
    _context: SpanContext
    _name: str
    _owner: Owner | None
    _parent: SpanContext
    _recorder: SpanRecorder
    _start_time: int

    # Fields most spans never change, as class attributes: a span gets its own value only
    # when one is set (its instance dictionary, which `ReadableSpan` gives it anyway).
    _end_time: int | None = None
    _events: Sequence[Event] = ()  # a list once there is one
    _status: Status = _UNSET
    _kind: SpanKind = _INTERNAL
    _links: Sequence[trace.Link] = ()
    _instrumentation_info = None

    @property
    def owner(self) -> Owner | None:
        """The execution the span belongs to, when its maker knew it (None: not said).

        Set for the attempts' spans and for spans started under a span that has one; a span
        processor that keeps spans by execution reads it here rather than noting each
        span's parent as it starts (`tracing_export.TraceStoreProcessor`).
        """
        return self._owner

    # -- what span processors read at start (as on the SDK's spans) ---------------------------

    @property
    def name(self) -> str:
        """The span's name."""
        return self._name

    @property
    def parent(self) -> SpanContext:
        """The parent's context."""
        return self._parent

    @property
    def context(self) -> SpanContext:
        """The span's context."""
        return self._context

    @property
    def attributes(self) -> Mapping[str, AttributeValue]:
        """The attributes so far (read-only)."""
        return MappingProxyType(self._attributes)

    @property
    def kind(self) -> SpanKind:
        """The span's kind."""
        return self._kind

    @property
    def start_time(self) -> int:
        """When it started, in ns since the epoch."""
        return self._start_time

    @property
    def end_time(self) -> int | None:
        """When it ended (None while it runs)."""
        return self._end_time

    @property
    def status(self) -> Status:
        """Its status (unset unless something set it)."""
        return self._status

    @property
    def events(self) -> Sequence[Event]:
        """Its events so far."""
        return tuple(self._events)

    @property
    def links(self) -> Sequence[trace.Link]:
        """Links are not kept."""
        return ()

    @property
    def _resource(self) -> Resource:  # what ReadableSpan's methods read
        return self._recorder.resource

    @property
    def resource(self) -> Resource:
        """The provider's resource."""
        return self._recorder.resource

    @property
    def _instrumentation_scope(self) -> InstrumentationScope:
        return self._recorder.scope

    @property
    def instrumentation_scope(self) -> InstrumentationScope:
        """The instrumentation scope (the recorder's)."""
        return self._recorder.scope

    # -- the Span API -------------------------------------------------------------------------

    def get_span_context(self) -> SpanContext:
        """The span's context."""
        return self._context

    def is_recording(self) -> bool:
        """True until it ends."""
        return self._end_time is None

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        """Set one attribute (values that are not valid attribute values are dropped)."""
        if self._end_time is None and _valid(value):
            self._attributes[key] = value

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        """Set several attributes."""
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def add_event(
        self, name: str, attributes: Attributes = None, timestamp: int | None = None
    ) -> None:
        """Add an event (now, unless `timestamp` says when)."""
        if self._end_time is not None:
            return
        events = self._events
        if not isinstance(events, list):
            events = self._events = list[Event]()
        events.append(Event(name, attributes, _time_ns() if timestamp is None else timestamp))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        """Links are not kept."""

    def update_name(self, name: str) -> None:
        """Rename the span."""
        if self._end_time is None:
            self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        """Set the status (an OK status is final, as in the SDK)."""
        if self._end_time is not None or self._status.status_code is StatusCode.OK:
            return
        if isinstance(status, StatusCode):
            status = Status(status, description)
        self._status = status

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        """Add an ``exception`` event, its message and stack trace redacted."""
        redact = self._recorder.redact
        stack = "".join(traceback.format_exception(exception))
        event: dict[str, AttributeValue] = {
            "exception.type": type(exception).__qualname__,
            "exception.message": redact(str(exception)),
            "exception.stacktrace": redact(stack),
            "exception.escaped": str(escaped),
        }
        event.update(attributes or {})
        self.add_event("exception", event, timestamp)

    def to_record(self, owner: tuple[str, str], hexes: Hexes) -> SpanRecord:
        """The finished span as the trace store keeps it, for execution `owner`.

        `baton.observability.tracing_export.span_record` for a span of this class (most of
        the spans kept): its fields read directly rather than through the `ReadableSpan`
        properties, which copy the attributes and events. `hexes` caches hex forms across a
        batch, whose spans share a few traces and parents.
        """
        traces, parents = hexes
        trace_int, span_int = self._context[0], self._context[1]
        if (trace_id := traces.get(trace_int)) is None:
            trace_id = traces[trace_int] = f"{trace_int:032x}"
        parent_int = self._parent[1]
        if (parent_id := parents.get(parent_int)) is None:
            parent_id = parents[parent_int] = f"{parent_int:016x}"
        status = self._status
        attributes = self._attributes.copy()  # values are primitives or tuples (`_valid`)
        for key, value in attributes.items():
            if type(value) is tuple:  # a sequence attribute: JSON has lists
                attributes[key] = list(value)  # pyright: ignore[reportUnknownArgumentType]
        # By position (see `SpanRecord`): this runs for every span kept, on the worker thread
        # that holds the GIL meanwhile. Enum members hash through a Python-level method, so
        # the usual kind and status (internal, unset) are matched by identity instead.
        return SpanRecord(
            trace_id,
            span_int.to_bytes(8, "big").hex(),  # as f"{span_int:016x}", in half the time
            parent_id,
            owner[0],  # execution_id
            owner[1],  # workspace_id
            self._name,
            "internal" if self._kind is _INTERNAL else KIND_NAMES[self._kind],
            self._start_time,
            self._end_time or self._start_time,
            "unset" if status is _UNSET else STATUS_NAMES[status.status_code],
            None if status is _UNSET else status.description,
            attributes,
            tuple(map(_event_record, self._events)) if self._events else (),
        )

    def end(self, end_time: int | None = None) -> None:
        """End it now (or at `end_time`) and hand it, finished, to the span processors."""
        if self._end_time is not None:
            return
        self._end_time = _time_ns() if end_time is None else end_time
        for on_end in self._recorder.on_end:
            on_end(self)
