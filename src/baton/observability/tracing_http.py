"""Trace context over HTTP: in from API requests (W3C ``traceparent``), out on httpx calls.

**In.** `TraceContextMiddleware` is a plain ASGI middleware: for a request that carries a
``traceparent`` header it extracts the remote context (with the process's propagators, W3C
trace context and baggage by default) and makes it current while the request is handled.
An execution started or resumed by the request runs in a task started from the handler, so
it inherits that context, and its root span becomes a child of the caller's span.

**Out.** httpx is instrumented once per process with ``opentelemetry-instrumentation-httpx``
(it patches httpx's transports, so every client an agent makes is covered, built-in or
plugin). Its tracer provider is `_SwitchProvider`: a client span is made, and ``traceparent``
sent, only while a recording span of an open `Tracing` is current (a step's span); any other
request (the CLI's API client, tests) passes through untouched. The span's URL attributes
lose their credentials and query (where tokens travel) before the span is made.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Awaitable, Callable, Generator, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, Tracer, TracerProvider
from opentelemetry.util.types import Attributes, AttributeValue

from baton.observability.tracing_redact import Redactor, redact_url

__all__ = ["TraceContextMiddleware", "HttpTarget", "instrument_httpx", "URL_ATTRIBUTES"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

URL_ATTRIBUTES = ("url.full", "http.url")
"""Attributes of HTTP client spans that hold the whole URL (current and older conventions)."""


class TraceContextMiddleware:
    """Make a request's W3C trace context (``traceparent``) current while it is handled."""

    def __init__(self, app: App) -> None:
        """Wrap the ASGI `app`."""
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI connection."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers: Sequence[tuple[bytes, bytes]] = scope.get("headers") or ()
        carrier = {
            name.decode("latin-1"): value.decode("latin-1")
            for name, value in headers
            if name in _CONTEXT_HEADERS
        }
        if "traceparent" not in carrier:
            await self.app(scope, receive, send)
            return
        token = otel_context.attach(propagate.extract(carrier))
        try:
            await self.app(scope, receive, send)
        finally:
            otel_context.detach(token)


_CONTEXT_HEADERS = frozenset({b"traceparent", b"tracestate", b"baggage"})


@dataclass(slots=True, eq=False)
class HttpTarget:
    """An open `Tracing`'s provider, which gets the client spans while it is the latest."""

    provider: TracerProvider
    """Where the spans go."""
    redactor: Redactor
    """Masks secrets in the URL attributes."""
    _tracers: dict[tuple[str, str | None, str | None], Tracer] = field(
        default_factory=dict[tuple[str, str | None, str | None], Tracer]
    )

    def tracer(self, name: str, version: str | None, schema_url: str | None) -> Tracer:
        """The provider's tracer for an instrumentation scope (made once)."""
        key = (name, version, schema_url)
        found = self._tracers.get(key)
        if found is None:
            found = self._tracers[key] = self.provider.get_tracer(name, version, schema_url)
        return found


_targets: list[HttpTarget] = []
_lock = threading.Lock()
_instrumented = False


def instrument_httpx(target: HttpTarget) -> Callable[[], None]:
    """Send the client spans of httpx calls to `target` until the returned callable is called.

    httpx is instrumented on the first call (once per process, never undone); with several
    targets open (tests), the latest gets the spans.
    """
    global _instrumented
    with _lock:
        if not _instrumented:
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            instrumentor = HTTPXClientInstrumentor()
            if not instrumentor.is_instrumented_by_opentelemetry:
                instrumentor.instrument(tracer_provider=_SwitchProvider())
            _instrumented = True
        _targets.append(target)

    def release() -> None:
        with _lock, contextlib.suppress(ValueError):
            _targets.remove(target)

    return release


class _SwitchProvider(TracerProvider):
    """Hands the httpx instrumentation a tracer that follows the open `Tracing`s."""

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: Attributes = None,
    ) -> Tracer:
        return _SwitchTracer(instrumenting_module_name, instrumenting_library_version, schema_url)


class _SwitchTracer(Tracer):
    """Starts a span on the latest target, only under a recording span; else none."""

    def __init__(self, name: str, version: str | None, schema_url: str | None) -> None:
        self._scope = (name, version, schema_url)

    def start_span(
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> Span:
        target = _targets[-1] if _targets else None
        if target is None or not trace.get_current_span(context).is_recording():
            # No traced work around this call: no span, and so no traceparent goes out.
            return trace.INVALID_SPAN
        if attributes:
            attributes = _clean_urls(attributes, target.redactor)
        return target.tracer(*self._scope).start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )

    @contextlib.contextmanager
    def start_as_current_span(  # pyright: ignore[reportIncompatibleMethodOverride]
        self,
        name: str,
        context: Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Generator[Span]:
        span = self.start_span(
            name,
            context,
            kind,
            attributes,
            links,
            start_time,
            record_exception,
            set_status_on_exception,
        )
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


def _clean_urls(attributes: Attributes, redactor: Redactor) -> dict[str, AttributeValue]:
    cleaned = dict(attributes or {})
    for name in URL_ATTRIBUTES:
        value = cleaned.get(name)
        if isinstance(value, str):
            cleaned[name] = redact_url(value, redactor)
    return cleaned
