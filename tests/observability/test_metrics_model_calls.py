"""Model calls counted through `Metrics.model_call_observer`, the model client's hook."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from prometheus_client.parser import text_string_to_metric_families

from baton.observability.metrics import Metrics, ModelCallFacts
from baton.store.model_calls import ModelCall


@dataclass(frozen=True)
class Call:
    """A plain object with the fields the observer reads."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = None
    latency_s: float = 0.0
    error: str | None = None


def samples(metrics: Metrics) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name.startswith("baton_model") and not s.name.endswith("_created")
    }


def test_calls_tokens_cost_duration_and_errors_are_counted() -> None:
    metrics = Metrics()
    observer = metrics.model_call_observer()
    observer.on_call(Call("openai", "gpt-4o", 100, 20, cost_usd=0.01, latency_s=0.4))
    observer.on_call(Call("openai", "gpt-4o", 50, 5, cost_usd=0.02, latency_s=2.0))
    observer.on_call(Call("openai", "gpt-4o", 7, 0, latency_s=30.0, error="ModelTimeoutError"))
    observer.on_call(Call("gemini", "gemini-2.5-flash", -3, 9))  # no price, odd usage

    got = samples(metrics)
    gpt = {("provider", "openai"), ("model", "gpt-4o")}
    gemini = {("provider", "gemini"), ("model", "gemini-2.5-flash")}
    assert got[("baton_model_calls_total", frozenset(gpt))] == 3
    assert got[("baton_model_tokens_total", frozenset(gpt | {("kind", "input")}))] == 157
    assert got[("baton_model_tokens_total", frozenset(gpt | {("kind", "output")}))] == 25
    assert got[("baton_model_cost_usd_total", frozenset(gpt))] == pytest.approx(0.03)
    errors = frozenset(gpt | {("error", "ModelTimeoutError")})
    assert got[("baton_model_call_errors_total", errors)] == 1
    assert got[("baton_model_call_duration_seconds_count", frozenset(gpt))] == 3
    assert got[("baton_model_call_duration_seconds_sum", frozenset(gpt))] == pytest.approx(32.4)
    le_1 = frozenset(gpt | {("le", "1.0")})
    assert got[("baton_model_call_duration_seconds_bucket", le_1)] == 1
    assert got[("baton_model_calls_total", frozenset(gemini))] == 1
    assert got[("baton_model_tokens_total", frozenset(gemini | {("kind", "input")}))] == 0
    assert got[("baton_model_cost_usd_total", frozenset(gemini))] == 0


def test_a_bad_call_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()

    class Broken:
        provider = "openai"
        model = "gpt-4o"
        input_tokens = "many"  # not a number: counting it fails
        output_tokens = 1
        cost_usd = None
        latency_s = 0.0
        error = None

    with caplog.at_level(logging.ERROR, logger="baton.observability.metrics"):
        metrics.model_call_observer().on_call(Broken())  # type: ignore[arg-type]
    assert "could not count a model call" in caplog.text


def test_the_store_record_of_a_call_is_what_the_observer_reads() -> None:
    # The model client hands its observers `baton.llm.usage.ModelCall` (the store's record).
    call: ModelCallFacts = ModelCall(
        provider="anthropic", model="claude", purpose="agent", input_tokens=3, output_tokens=4
    )
    metrics = Metrics()
    metrics.model_call_observer().on_call(call)
    got = samples(metrics)
    labels = frozenset({("provider", "anthropic"), ("model", "claude")})
    assert got[("baton_model_calls_total", labels)] == 1
