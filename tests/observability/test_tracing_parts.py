"""The small parts of tracing: planning and model-call spans, redaction, the ASGI middleware."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode, Tracer

from baton.errors import PlanningError
from baton.observability.tracing import (
    TraceContextMiddleware,
    model_call_span,
    planning_span,
)
from baton.observability.tracing_redact import MASK, Redactor, redact_url


@pytest.fixture
def spans() -> Iterator[tuple[Tracer, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider.get_tracer("test"), exporter
    provider.shutdown()


def only(exporter: InMemorySpanExporter, name: str) -> ReadableSpan:
    (found,) = [s for s in exporter.get_finished_spans() if s.name == name]
    return found


# --- planning and model calls ---------------------------------------------------------------


def test_a_model_call_inside_planning_has_the_genai_attributes(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    with planning_span(tracer, planner="llm") as plan:
        with model_call_span(
            tracer, provider="openai", model="gpt-4o-mini", max_tokens=256, temperature=0.0
        ) as call:
            call.record_usage(
                input_tokens=120,
                output_tokens=34,
                response_model="gpt-4o-mini-2024",
                finish_reasons=["stop"],
            )
        plan.set_attribute("baton.step_count", 2)

    planning = only(exporter, "plan")
    model = only(exporter, "chat gpt-4o-mini")
    assert model.kind is SpanKind.CLIENT
    assert model.parent is not None
    assert planning.context is not None
    assert model.parent.span_id == planning.context.span_id
    assert dict(model.attributes or {}) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.max_tokens": 256,
        "gen_ai.request.temperature": 0.0,
        "gen_ai.usage.input_tokens": 120,
        "gen_ai.usage.output_tokens": 34,
        "gen_ai.response.model": "gpt-4o-mini-2024",
        "gen_ai.response.finish_reasons": ("stop",),
    }
    assert dict(planning.attributes or {}) == {"baton.planner": "llm", "baton.step_count": 2}


def test_failed_model_calls_and_planning_are_error_spans_without_the_message(
    spans: tuple[Tracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = spans
    with pytest.raises(PlanningError), planning_span(tracer, planner="llm"):  # noqa: PT012
        with (
            pytest.raises(TimeoutError),
            model_call_span(tracer, provider="anthropic", model="claude"),
        ):
            raise TimeoutError("request with key sk-ant-0123456789abcdef timed out")
        raise PlanningError("could not plan 'my password is hunter2'")
    model = only(exporter, "chat claude")
    planning = only(exporter, "plan")
    for span, kind in ((model, "TimeoutError"), (planning, "PlanningError")):
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == kind
        assert span.attributes is not None
        assert span.attributes["error.type"] == kind
        assert span.events == ()  # no exception event: its message could hold anything


# --- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secret", "kept"),
    [
        (
            "GET https://api.example.com/x?api_key=abc123def&page=2 answered 500",
            "abc123def",
            "page=2",
        ),
        ('{"password": "correct horse", "user": "dana"}', "correct", '"dana"'),
        ("Authorization: Bearer eyJhbGciOi.J9eyJzdWIiOiIx.MjM0NTY3ODkw", "eyJhbGciOi", "Bearer"),
        ("failed with token ghp_abcdefghijklmnopqrstuvwxyz0123", "ghp_abcdefghij", "failed"),
        ("postgresql://baton:s3cr3tpw@db:5432/baton is down", "s3cr3tpw", "@db:5432/baton"),
        ("key baton_01hxabc_QmFzZTY0LXNlY3JldC12YWx1ZQ was revoked", "QmFzZTY0", "revoked"),
        ("AWS says AKIAABCDEFGHIJKLMNOP is unknown", "AKIAABCDEFGHIJKLMNOP", "unknown"),
        ("the configured one: my-own-secret-value!", "my-own-secret-value", "one:"),
    ],
)
def test_the_redactor_masks_secrets_and_keeps_the_rest(text: str, secret: str, kept: str) -> None:
    redacted = Redactor(["my-own-secret-value"])(text)
    assert secret not in redacted
    assert MASK in redacted
    assert kept in redacted


def test_the_redactor_leaves_plain_text_alone() -> None:
    text = "step 'fetch' failed: GET https://example.com/items answered 404 Not Found"
    assert Redactor(["abc"])(text) == text  # too short a secret to mask words


def test_redact_url_drops_credentials_query_and_fragment() -> None:
    assert redact_url("https://u:p@example.com:8443/a/b?token=x#frag") == (
        "https://example.com:8443/a/b"
    )
    assert redact_url("http://[::1]:8080/x?y=1") == "http://[::1]:8080/x"
    assert (
        redact_url("http://h/users/my-secret-id", Redactor(["my-secret-id"]))
        == "http://h/users/***"
    )


# --- the middleware -------------------------------------------------------------------------


async def _call(middleware: TraceContextMiddleware, scope: dict[str, Any]) -> None:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request"}

    async def send(message: Any) -> None:
        pass

    await middleware(scope, receive, send)


@pytest.mark.anyio
async def test_the_middleware_makes_the_callers_context_current_only_during_the_request() -> None:
    seen: list[trace.SpanContext] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(trace.get_current_span().get_span_context())

    middleware = TraceContextMiddleware(app)
    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    await _call(middleware, {"type": "http", "headers": [(b"traceparent", parent.encode())]})
    await _call(middleware, {"type": "http", "headers": [(b"traceparent", b"garbage")]})
    await _call(middleware, {"type": "http", "headers": []})
    await _call(middleware, {"type": "lifespan"})
    with_header, garbage, without, lifespan = seen
    assert with_header.trace_id == 0x0AF7651916CD43DD8448EB211C80319C
    assert with_header.span_id == 0xB7AD6B7169203331
    assert with_header.is_remote
    for ctx in (garbage, without, lifespan):
        assert not ctx.is_valid
    assert not trace.get_current_span().get_span_context().is_valid  # detached afterwards
