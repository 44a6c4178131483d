"""`ModelClient` against the fake server, in each provider's own wire format."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from baton.errors import BudgetExceededError, ModelError, ModelOutputRejectedError
from baton.llm.client import ModelClient
from baton.llm.protocol import CallScope, TextModel
from baton.llm.usage import Budget, ModelCall
from support.fake_llm import (
    KEY,
    Api,
    Weather,
    client,
    config_for,
    fake_llm,
    hang,
    malformed,
    refusal,
    status,
    text,
    value,
)

pytestmark = pytest.mark.anyio

PROVIDERS: list[Api] = ["gemini", "openai", "anthropic"]
OSLO = {"city": "Oslo", "celsius": 3}


class Calls:
    """An observer keeping what it is told."""

    def __init__(self) -> None:
        self.seen: list[ModelCall] = []

    def on_call(self, call: ModelCall) -> None:
        self.seen.append(call)


def _is_a_text_model(client: ModelClient) -> TextModel:
    return client  # pyright checks that ModelClient implements the TextModel protocol


def _scope(**kw: object) -> CallScope:
    return CallScope(purpose="plan", **kw)  # pyright: ignore[reportArgumentType]


def _request_text(body: object) -> str:
    return json.dumps(body)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_structured_answer_on_each_provider_wire(provider: Api) -> None:
    calls = Calls()
    async with fake_llm(value(OSLO, input_tokens=120, output_tokens=30)) as fake:
        model = client(fake, provider, observers=(calls,))
        assert isinstance(model, TextModel)
        scope = _scope(execution_id="ex_1")
        got = await model.generate(
            instructions="Answer with the weather.",
            prompt="weather in Oslo?",
            output_type=Weather,
            scope=scope,
        )
        await model.aclose()

    assert got.output == Weather(city="Oslo", celsius=3)
    assert got.attempts == 1
    [call] = got.calls
    assert (call.provider, call.model, call.purpose) == (provider, model.model_name, "plan")
    assert (call.input_tokens, call.output_tokens, call.execution_id) == (120, 30, "ex_1")
    assert call.error is None
    assert call.latency_s > 0
    assert calls.seen == [call]
    assert (scope.spent.calls, scope.spent.tokens) == (1, 150)

    [seen] = fake.requests
    wire = _request_text(seen.body)
    assert "weather in Oslo?" in wire
    assert "Answer with the weather." in wire
    assert '"celsius"' in wire  # the output schema went with the request
    if provider == "gemini":
        assert seen.path == f"/v1beta/models/{model.model_name}:generateContent"
        assert seen.headers["x-goog-api-key"] == KEY
    else:
        assert seen.body["model"] == model.model_name
        assert KEY in (seen.headers.get("authorization", "") + seen.headers.get("x-api-key", ""))


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_text_answer(provider: Api) -> None:
    async with fake_llm(text("Short summary.")) as fake:
        model = client(fake, provider)
        got = await model.complete(instructions="Summarize.", prompt="long text", scope=_scope())
        await model.aclose()
    assert got == "Short summary."
    assert "long text" in _request_text(fake.requests[0].body)


def _warm_only(w: Weather) -> Sequence[str]:
    return [] if w.celsius > 10 else [f"celsius must be above 10, got {w.celsius}"]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rejected_answer_goes_back_with_its_problems(provider: Api) -> None:
    async with fake_llm(value(OSLO), value({"city": "Rome", "celsius": 21})) as fake:
        model = client(fake, provider)
        got = await model.generate(
            instructions="i", prompt="p", output_type=Weather, scope=_scope(), check=_warm_only
        )
        await model.aclose()
    assert got.output.city == "Rome"
    assert got.attempts == 2
    assert len(got.calls) == 2
    first, second = (_request_text(r.body) for r in fake.requests)
    assert "celsius must be above 10, got 3" not in first
    assert "celsius must be above 10, got 3" in second


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_answer_still_rejected_after_max_attempts(provider: Api) -> None:
    async with fake_llm(value(OSLO), value(OSLO | {"celsius": 4}), value(OSLO)) as fake:
        model = client(fake, provider)
        with pytest.raises(ModelOutputRejectedError) as caught:
            await model.generate(
                instructions="i",
                prompt="p",
                output_type=Weather,
                scope=_scope(),
                check=_warm_only,
                max_attempts=2,
            )
        await model.aclose()
    assert caught.value.problems == ("celsius must be above 10, got 4",)
    assert len(fake.requests) == 2


async def test_answer_that_does_not_fit_the_schema_is_retried_then_rejected() -> None:
    bad = value({"city": "Oslo", "celsius": "cold"})
    async with fake_llm(bad, bad) as fake:
        model = client(fake, "openai")
        with pytest.raises(ModelOutputRejectedError) as caught:
            await model.generate(
                instructions="i", prompt="p", output_type=Weather, scope=_scope(), max_attempts=2
            )
        await model.aclose()
    assert len(fake.requests) == 2
    assert any("celsius" in p for p in caught.value.problems)
    assert "celsius" in _request_text(fake.requests[1].body)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limit_is_retried_after_retry_after(provider: Api) -> None:
    async with fake_llm(status(429, retry_after="1"), value(OSLO)) as fake:
        model = client(fake, provider)
        started = time.monotonic()
        got = await model.generate(
            instructions="i", prompt="p", output_type=Weather, scope=_scope()
        )
        await model.aclose()
    assert time.monotonic() - started >= 1.0
    assert got.output.city == "Oslo"
    assert len(fake.requests) == 2
    assert len(got.calls) == 1  # one model request, retried inside the transport


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("code", [429, 500, 503])
async def test_failing_provider_gives_clear_error_after_bounded_retries(
    provider: Api, code: int
) -> None:
    calls = Calls()
    async with fake_llm(*[status(code, retry_after="0")] * 5) as fake:
        model = client(fake, provider, max_retries=2, observers=(calls,))
        with pytest.raises(ModelError) as caught:
            await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    assert len(fake.requests) == 3  # the first try and 2 retries
    message = str(caught.value)
    assert f"HTTP {code}" in message
    assert provider in message
    assert model.model_name in message
    assert "baton llm check" in message
    assert caught.value.retryable
    assert KEY not in message
    [call] = calls.seen
    assert call.error is not None
    assert call.tokens == 0


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_timeout_gives_clear_error_after_bounded_retries(provider: Api) -> None:
    async with fake_llm(hang(), hang()) as fake:
        model = client(fake, provider, max_retries=1, timeout_s=0.3)
        with pytest.raises(ModelError) as caught:
            await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    assert len(fake.requests) == 2
    message = str(caught.value)
    assert "could not reach" in message
    assert provider in message
    assert "baton llm check" in message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_malformed_json_gives_clear_error(provider: Api) -> None:
    async with fake_llm(malformed(), malformed()) as fake:
        model = client(fake, provider)
        with pytest.raises(ModelError) as caught:
            await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    assert len(fake.requests) == 1
    assert "malformed" in str(caught.value)
    assert provider in str(caught.value)
    assert not isinstance(caught.value, ModelOutputRejectedError)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_refusal_says_the_model_refused(provider: Api) -> None:
    async with fake_llm(refusal(), refusal(), refusal()) as fake:
        model = client(fake, provider)
        with pytest.raises(ModelError, match="refused"):
            await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    assert len(fake.requests) == 1


async def test_budget_stops_the_second_call() -> None:
    scope = _scope(budget=Budget(max_tokens=100))
    async with fake_llm(value(OSLO, input_tokens=90, output_tokens=20), value(OSLO)) as fake:
        model = client(fake, "openai")
        await model.generate(instructions="i", prompt="p", output_type=Weather, scope=scope)
        with pytest.raises(BudgetExceededError, match="110 of 100 tokens"):
            await model.generate(instructions="i", prompt="p", output_type=Weather, scope=scope)
        await model.aclose()
    assert len(fake.requests) == 1


async def test_budget_is_checked_before_a_retry_inside_one_generate() -> None:
    scope = _scope(budget=Budget(max_tokens=100))
    async with fake_llm(value(OSLO, input_tokens=90, output_tokens=20), value(OSLO)) as fake:
        model = client(fake, "openai")
        with pytest.raises(BudgetExceededError):
            await model.generate(
                instructions="i", prompt="p", output_type=Weather, scope=scope, check=_warm_only
            )
        await model.aclose()
    assert len(fake.requests) == 1
    assert scope.spent.tokens == 110


async def test_cost_comes_from_the_price_table() -> None:
    async with fake_llm(
        value(OSLO, input_tokens=1_000_000, output_tokens=1_000_000), value(OSLO)
    ) as fake:
        priced = client(fake, "openai", model="gpt-4o-mini")
        unpriced = client(fake, "openai", model="my-local-llama")
        scope = _scope(budget=Budget(max_cost_usd=100))
        a = await priced.generate(instructions="i", prompt="p", output_type=Weather, scope=scope)
        b = await unpriced.generate(instructions="i", prompt="p", output_type=Weather, scope=scope)
        await priced.aclose()
        await unpriced.aclose()
    assert a.calls[0].cost_usd == pytest.approx(0.15 + 0.60)
    assert b.calls[0].cost_usd is None
    assert scope.spent.cost_usd == pytest.approx(0.75)
    assert scope.spent.unpriced_calls == 1
    assert fake.requests[1].body["model"] == "my-local-llama"


async def test_span_factory_gets_each_request_and_its_usage() -> None:
    import contextlib
    from collections.abc import Iterator

    spans: list[dict[str, object]] = []

    class Recorder:
        def __init__(self, entry: dict[str, object]) -> None:
            self.entry = entry

        def record_usage(self, *, input_tokens: int, output_tokens: int) -> None:
            self.entry["usage"] = (input_tokens, output_tokens)

    @contextlib.contextmanager
    def span(**attributes: object) -> Iterator[Recorder]:
        entry = dict(attributes)
        spans.append(entry)
        yield Recorder(entry)

    from baton.llm.factory import client_for

    async with fake_llm(value(OSLO, input_tokens=5, output_tokens=6)) as fake:
        model = client_for(config_for(fake, "gemini"), span=span)
        await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    assert spans == [
        {"provider": "gemini", "model": model.model_name, "operation": "chat", "usage": (5, 6)}
    ]


async def test_tracing_model_call_is_a_span_factory(tmp_path: Path) -> None:
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from baton.llm.factory import client_for
    from baton.observability.tracing import setup_tracing
    from baton.settings import Settings

    exporter = InMemorySpanExporter()
    tracing = setup_tracing(
        Settings(data_dir=tmp_path, trace_db=False),
        None,
        processors=[SimpleSpanProcessor(exporter)],
    )
    async with fake_llm(value(OSLO, input_tokens=5, output_tokens=6)) as fake:
        model = client_for(config_for(fake, "anthropic"), span=tracing.model_call)
        await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    await tracing.shutdown()
    [span] = exporter.get_finished_spans()
    assert span.name == f"chat {model.model_name}"
    attributes = dict(span.attributes or {})
    assert attributes["gen_ai.usage.input_tokens"] == 5
    assert attributes["gen_ai.usage.output_tokens"] == 6


async def test_a_refused_key_is_not_retried_and_names_its_variable() -> None:
    async with fake_llm(status(401), value(OSLO)) as fake:
        model = client(fake, "gemini", key_variable="GEMINI_API_KEY")
        with pytest.raises(ModelError) as caught:
            await model.generate(instructions="i", prompt="p", output_type=Weather, scope=_scope())
        await model.aclose()
    assert len(fake.requests) == 1
    assert "HTTP 401" in str(caught.value)
    assert "check GEMINI_API_KEY" in str(caught.value)
    assert not caught.value.retryable


async def test_max_attempts_defaults_to_the_setting() -> None:
    async with fake_llm(*[value(OSLO)] * 5) as fake:
        model = client(fake, "openai", max_attempts=4)
        with pytest.raises(ModelOutputRejectedError):
            await model.generate(
                instructions="i", prompt="p", output_type=Weather, scope=_scope(), check=_warm_only
            )
        await model.aclose()
    assert len(fake.requests) == 4
