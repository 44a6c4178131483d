"""Spans around planning a request and around a language model's calls.

A ``plan`` span (`planning_span`) and one CLIENT span per model call (`model_call_span`)
with the GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/):
operation, provider, requested and answering model, token usage and finish reasons. No
prompt, completion or request text is recorded. `baton.observability.tracing.Tracing`
makes them with baton's tracer (`Tracing.planning`, `Tracing.model_call`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Final

from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

__all__ = [
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "ModelCall",
    "model_call_span",
    "planning_span",
]

# GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/).
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""The provider under its older name, still read by many backends."""
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"


@contextlib.contextmanager
def planning_span(tracer: Tracer, *, planner: str) -> Generator[Span]:
    """A ``plan`` span around planning a request, current while it runs.

    The request's text is not recorded (it may hold anything); set ``baton.step_count`` on
    the yielded span once the plan is made. An exception marks the span failed (its type
    only) and goes on.
    """
    with tracer.start_as_current_span(
        "plan",
        attributes={"baton.planner": planner},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


@dataclass(slots=True)
class ModelCall:
    """A model call's span; tell it what the provider answered."""

    span: Span
    """The span (a CLIENT span named ``{operation} {model}``)."""

    def record_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        response_model: str | None = None,
        finish_reasons: Sequence[str] = (),
    ) -> None:
        """Record the tokens used and the model that answered."""
        attributes: dict[str, AttributeValue] = {}
        if input_tokens is not None:
            attributes[GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        if response_model is not None:
            attributes[GEN_AI_RESPONSE_MODEL] = response_model
        if finish_reasons:
            attributes[GEN_AI_RESPONSE_FINISH_REASONS] = list(finish_reasons)
        self.span.set_attributes(attributes)


@contextlib.contextmanager
def model_call_span(
    tracer: Tracer,
    *,
    provider: str,
    model: str,
    operation: str = "chat",
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> Generator[ModelCall]:
    """A span around one call to a language model, with the GenAI semantic conventions.

    ```python
    with model_call_span(tracer, provider="openai", model="gpt-4o") as call:
        reply = await client.chat(...)
        call.record_usage(input_tokens=reply.usage.input, output_tokens=reply.usage.output)
    ```

    Prompts and completions are not recorded. An exception marks the span failed with its
    type (``error.type``) and goes on.

    Args:
        tracer: Makes the span.
        provider: ``gen_ai.provider.name`` (and ``gen_ai.system``), e.g. ``openai``,
            ``anthropic``, ``gcp.gemini``, ``ollama``.
        model: ``gen_ai.request.model``.
        operation: ``gen_ai.operation.name``: ``chat``, ``text_completion``,
            ``embeddings``...
        max_tokens: ``gen_ai.request.max_tokens``, if set.
        temperature: ``gen_ai.request.temperature``, if set.
    """
    attributes: dict[str, AttributeValue] = {
        GEN_AI_OPERATION_NAME: operation,
        GEN_AI_PROVIDER_NAME: provider,
        GEN_AI_SYSTEM: provider,
        GEN_AI_REQUEST_MODEL: model,
    }
    if max_tokens is not None:
        attributes[GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    if temperature is not None:
        attributes[GEN_AI_REQUEST_TEMPERATURE] = temperature
    with tracer.start_as_current_span(
        f"{operation} {model}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield ModelCall(span)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
            span.set_attribute("error.type", type(exc).__qualname__)
            raise
