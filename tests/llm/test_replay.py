"""Recording model traffic to a cassette, and replaying it with no server."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from baton.errors import ConfigError, ModelError
from baton.llm.protocol import CallScope
from baton.llm.replay import REDACTED, redact_url
from support.fake_llm import KEY, Weather, client, fake_llm, status, text, value

pytestmark = pytest.mark.anyio

CASSETTES = Path(__file__).parent / "cassettes"
COMMITTED = CASSETTES / "gemini_weather.jsonl"
"""Recorded with ``tests/llm/record_cassette.py`` against the fake server: a 429, then an
answer the check rejects, then a good one."""


def _scope() -> CallScope:
    return CallScope(purpose="plan")


def _warm(w: Weather) -> list[str]:
    return [] if w.celsius > 10 else ["too cold"]


async def test_record_then_replay_without_a_server(tmp_path: Path) -> None:
    cassette = tmp_path / "run.jsonl"
    async with fake_llm(value({"city": "Oslo", "celsius": 3}, input_tokens=40), text("ok")) as fake:
        recorder = client(fake, "anthropic", record=cassette)
        recorded = await recorder.generate(
            instructions="i", prompt="p", output_type=Weather, scope=_scope()
        )
        said = await recorder.complete(instructions="i", prompt="q", scope=_scope())
        await recorder.aclose()

    content = cassette.read_text()
    assert KEY not in content
    entries = [json.loads(line) for line in content.splitlines()]
    assert len(entries) == 2
    assert entries[0]["request"]["headers"]["authorization"] == REDACTED
    assert entries[0]["request"]["body"]["model"] == "claude-haiku-5-5"

    # The fake server is gone: the replay must not need it.
    player = client(None, "anthropic", replay=cassette)
    replayed = await player.generate(
        instructions="i", prompt="p", output_type=Weather, scope=_scope()
    )
    assert replayed.output == recorded.output
    assert replayed.calls[0].input_tokens == 40
    assert await player.complete(instructions="i", prompt="q", scope=_scope()) == said
    await player.aclose()


async def test_committed_cassette_replays_retries_and_rejections() -> None:
    player = client(None, "gemini", replay=COMMITTED)
    got = await player.generate(
        instructions="Answer with the weather.",
        prompt="weather in Rome?",
        output_type=Weather,
        scope=_scope(),
        check=_warm,
    )
    await player.aclose()
    assert got.output == Weather(city="Rome", celsius=21)
    assert got.attempts == 2


async def test_a_request_the_cassette_does_not_have_is_named() -> None:
    player = client(None, "gemini", replay=COMMITTED, model="gemini-3.1-pro-preview")
    with pytest.raises(ModelError) as caught:
        await player.complete(instructions="i", prompt="p", scope=_scope())
    await player.aclose()
    message = str(caught.value)
    assert "does not match at exchange 1" in message
    assert "gemini-3.1-pro-preview:generateContent" in message
    assert "gemini-3.8-flash:generateContent" in message


async def test_a_used_up_cassette_says_so(tmp_path: Path) -> None:
    cassette = tmp_path / "one.jsonl"
    async with fake_llm(text("one")) as fake:
        recorder = client(fake, "openai", record=cassette)
        await recorder.complete(instructions="i", prompt="p", scope=_scope())
        await recorder.aclose()
    player = client(None, "openai", replay=cassette)
    assert await player.complete(instructions="i", prompt="p", scope=_scope()) == "one"
    with pytest.raises(ModelError, match="no more answers"):
        await player.complete(instructions="i", prompt="p", scope=_scope())
    await player.aclose()


async def test_recorded_retries_replay_as_retries(tmp_path: Path) -> None:
    cassette = tmp_path / "retry.jsonl"
    async with fake_llm(status(503, retry_after="0"), text("after")) as fake:
        recorder = client(fake, "openai", record=cassette)
        await recorder.complete(instructions="i", prompt="p", scope=_scope())
        await recorder.aclose()
    assert [json.loads(x)["response"]["status"] for x in cassette.read_text().splitlines()] == [
        503,
        200,
    ]
    player = client(None, "openai", replay=cassette)
    assert await player.complete(instructions="i", prompt="p", scope=_scope()) == "after"
    await player.aclose()


def test_key_query_parameters_are_redacted() -> None:
    url = httpx2.URL("https://x.example/v1beta/models/m:generateContent?key=AIza-secret&alt=json")
    assert redact_url(url) == (
        f"https://x.example/v1beta/models/m:generateContent?key={REDACTED}&alt=json"
    )


def test_a_file_that_is_not_a_cassette_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"request": {}}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:1 is not a cassette entry"):
        client(None, "openai", replay=bad)
    with pytest.raises(ConfigError, match="cannot read the model cassette"):
        client(None, "openai", replay=tmp_path / "missing.jsonl")


async def test_replay_is_selected_by_the_settings() -> None:
    from baton.llm.factory import build_model_client
    from baton.settings import Settings

    settings = Settings(_env_file=None, llm_provider="gemini", llm_replay=COMMITTED)  # pyright: ignore[reportCallIssue]
    player = build_model_client(settings, environ={})
    assert player is not None
    got = await player.generate(
        instructions="Answer with the weather.",
        prompt="weather in Rome?",
        output_type=Weather,
        scope=_scope(),
        check=_warm,
    )
    await player.aclose()
    assert got.output.celsius == 21
