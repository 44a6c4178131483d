"""Which provider baton uses, from settings and the providers' key variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baton.errors import ConfigError
from baton.llm.config import DEFAULT_MODELS, resolve_llm_config
from baton.llm.factory import build_model_client
from baton.llm.prices import load_prices, parse_prices
from baton.settings import Settings, load_settings

pytestmark = pytest.mark.anyio


def settings(**values: Any) -> Settings:
    return Settings(_env_file=None, **values)  # pyright: ignore[reportCallIssue]


@pytest.mark.parametrize(
    ("environ", "base_url", "expected"),
    [
        ({}, None, None),
        ({"GEMINI_API_KEY": "g", "OPENAI_API_KEY": "o", "ANTHROPIC_API_KEY": "a"}, None, "gemini"),
        ({"GOOGLE_API_KEY": "g"}, None, "gemini"),
        ({"OPENAI_API_KEY": "o", "ANTHROPIC_API_KEY": "a"}, None, "openai"),
        ({"ANTHROPIC_API_KEY": "a"}, "http://localhost:11434/v1", "openai"),
        ({"ANTHROPIC_API_KEY": "a"}, None, "anthropic"),
        ({"GEMINI_API_KEY": "  "}, None, None),
    ],
)
def test_auto_picks_the_first_configured_provider(
    environ: dict[str, str], base_url: str | None, expected: str | None
) -> None:
    config = resolve_llm_config(settings(llm_base_url=base_url), environ)
    assert (config.provider if config else None) == expected
    if config is not None:
        assert config.model == DEFAULT_MODELS[config.provider]


def test_the_key_is_held_secret_and_its_variable_named() -> None:
    config = resolve_llm_config(settings(), {"GEMINI_API_KEY": "AIza-very-secret"})
    assert config is not None
    assert config.key_variable == "GEMINI_API_KEY"
    assert config.key_value() == "AIza-very-secret"
    assert "AIza-very-secret" not in repr(config)
    assert "AIza-very-secret" not in str(config.api_key)


def test_named_provider_and_model_win_over_auto() -> None:
    config = resolve_llm_config(
        settings(llm_provider="anthropic", llm_model="claude-sonnet-5-5", llm_max_attempts=5),
        {"GEMINI_API_KEY": "g", "ANTHROPIC_API_KEY": "a"},
    )
    assert config is not None
    assert (config.provider, config.model, config.max_attempts) == (
        "anthropic",
        "claude-sonnet-5-5",
        5,
    )


def test_none_plans_offline_even_with_keys() -> None:
    assert resolve_llm_config(settings(llm_provider="none"), {"GEMINI_API_KEY": "g"}) is None


@pytest.mark.parametrize(
    ("provider", "variable"),
    [
        ("gemini", "GEMINI_API_KEY"),
        ("openai", "OPENAI_API_KEY"),
        ("anthropic", "ANTHROPIC_API_KEY"),
    ],
)
def test_a_named_provider_without_its_key_names_the_variable(provider: str, variable: str) -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_llm_config(settings(llm_provider=provider), {})
    assert variable in str(caught.value)


def test_a_local_openai_compatible_server_needs_no_key() -> None:
    config = resolve_llm_config(
        settings(
            llm_provider="openai", llm_base_url="http://localhost:11434/v1", llm_model="qwen3"
        ),
        {},
    )
    assert config is not None
    assert config.api_key is None
    assert config.base_url == "http://localhost:11434/v1"


def test_replaying_needs_no_key(tmp_path: Path) -> None:
    config = resolve_llm_config(
        settings(llm_provider="gemini", llm_replay=tmp_path / "c.jsonl"), {}
    )
    assert config is not None
    assert config.replay == tmp_path / "c.jsonl"


def test_record_and_replay_together_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="both set"):
        resolve_llm_config(
            settings(llm_record=tmp_path / "a", llm_replay=tmp_path / "b"), {"GEMINI_API_KEY": "g"}
        )


def test_an_unknown_provider_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATON_LLM_PROVIDER", "mistral")
    with pytest.raises(ConfigError, match="BATON_LLM_PROVIDER"):
        load_settings()


async def test_build_model_client_is_none_offline_and_a_client_otherwise() -> None:
    assert build_model_client(settings(), environ={}) is None
    client = build_model_client(settings(), environ={"ANTHROPIC_API_KEY": "a"})
    assert client is not None
    assert (client.provider, client.model_name) == ("anthropic", DEFAULT_MODELS["anthropic"])
    await client.aclose()


def test_every_default_model_has_a_price() -> None:
    prices = load_prices()
    for provider, model in DEFAULT_MODELS.items():
        assert (provider, model) in prices


def test_a_bad_price_table_is_refused() -> None:
    with pytest.raises(ValueError, match=r"openai\.m needs numbers"):
        parse_prices('[openai."m"]\ninput = 1\n')
