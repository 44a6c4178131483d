"""`tracing_context`: the hot path's way of making a span current agrees with the API's."""

from __future__ import annotations

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import INVALID_SPAN

from baton.observability.tracing_context import CONTEXT_VAR, current_span, make_current, restore


def test_the_default_runtime_context_is_used_directly() -> None:
    assert CONTEXT_VAR is not None  # else every helper goes through the API (slower)


def test_a_span_made_current_is_the_apis_current_span_until_restored() -> None:
    tracer = TracerProvider().get_tracer("test")
    outer = tracer.start_span("outer")
    key = otel_context.create_key("other")
    with_outer = otel_context.set_value(key, "kept", trace.set_span_in_context(outer))
    token_outer = otel_context.attach(with_outer)
    try:
        inner = tracer.start_span("inner")
        token = make_current(inner)
        assert trace.get_current_span() is inner
        assert current_span() is inner
        assert otel_context.get_value(key) == "kept"  # the rest of the context is carried
        restore(token)
        assert trace.get_current_span() is outer
        assert current_span() is outer
        restore(token)  # a token used twice: ignored, as `detach` does (after logging it)
        assert current_span() is outer
    finally:
        otel_context.detach(token_outer)


def test_without_a_span_the_current_one_is_the_invalid_span() -> None:
    assert current_span() is INVALID_SPAN
    assert trace.get_current_span() is INVALID_SPAN
