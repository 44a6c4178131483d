"""``baton llm check`` against the fake server."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner, Result

from baton.cli import app
from support.fake_llm import KEY, fake_llm_in_thread, status, text

_PROVIDER_VARIABLES = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "ANTHROPIC_API_KEY",
    "BATON_LLM_PROVIDER",
    "BATON_LLM_MODEL",
    "BATON_LLM_BASE_URL",
    "BATON_LLM_RECORD",
    "BATON_LLM_REPLAY",
    "BATON_URL",
)


def llm_check(tmp_path: Path, **env: str) -> Result:
    clean: dict[str, str | None] = dict.fromkeys(_PROVIDER_VARIABLES)
    clean |= {"BATON_DATA_DIR": str(tmp_path), "BATON_LLM_MAX_RETRIES": "1", **env}
    return CliRunner().invoke(app, ["llm", "check"], env=clean)


def test_check_with_no_provider_says_the_offline_planner_is_used(tmp_path: Path) -> None:
    result = llm_check(tmp_path)
    assert result.exit_code == 0, result.output
    assert "offline planner" in result.output


def test_check_calls_the_model_and_never_shows_the_key(tmp_path: Path) -> None:
    with fake_llm_in_thread(text("ok", input_tokens=9, output_tokens=1)) as fake:
        result = llm_check(
            tmp_path,
            OPENAI_API_KEY=KEY,
            BATON_LLM_BASE_URL=fake.base_url("openai"),
            BATON_LLM_MODEL="gpt-4o-mini",
        )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "openai" in out
    assert "gpt-4o-mini" in out
    assert fake.base_url("openai") in out
    assert "from OPENAI_API_KEY" in out
    assert "9 tokens in, 1 out" in out
    assert KEY not in out
    [seen] = fake.requests
    assert seen.body["model"] == "gpt-4o-mini"


def test_check_of_a_failing_provider_exits_1_with_the_error(tmp_path: Path) -> None:
    with fake_llm_in_thread(status(500, retry_after="0"), status(500, retry_after="0")) as fake:
        result = llm_check(tmp_path, GEMINI_API_KEY=KEY, BATON_LLM_BASE_URL=fake.base_url("gemini"))
    assert result.exit_code == 1, result.output
    assert "HTTP 500" in result.output
    assert "gemini" in result.output
    assert len(fake.requests) == 2
    assert KEY not in result.output


def test_check_of_a_provider_without_its_key_names_the_variable(tmp_path: Path) -> None:
    result = llm_check(tmp_path, BATON_LLM_PROVIDER="anthropic")
    assert result.exit_code == 2
    assert "ANTHROPIC_API_KEY" in result.output
