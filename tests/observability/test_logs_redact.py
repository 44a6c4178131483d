"""No secrets in logs: what the redactor replaces, and what it leaves alone."""

from __future__ import annotations

import pytest

from baton.observability.logs_redact import REDACTED, Redactor
from baton.settings import Settings

TOKEN = "baton_0123456789ab_" + "x" * 21 + "-" + "Y" * 21


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key {TOKEN} used", f"key baton_0123456789ab_{REDACTED} used"),
        ("Authorization: Bearer abc.def-123_456", f"Authorization: Bearer {REDACTED}"),
        ("basic dXNlcjpwYXNz", f"basic {REDACTED}"),
        (
            "postgresql://baton:hunter22@db:5432/baton",
            f"postgresql://baton:{REDACTED}@db:5432/baton",
        ),
        ("password=hunter2 user=bob", f"password={REDACTED} user=bob"),
        ('{"api_key": "xyz123", "n": 1}', f'{{"api_key": "{REDACTED}", "n": 1}}'),
        ("client-secret: abc; next", f"client-secret: {REDACTED}; next"),
        ("X-Api-Key=k1k2k3&page=2", f"X-Api-Key={REDACTED}&page=2"),
        ("use sk-abcdefghijklmnop0123", f"use {REDACTED}"),
        ("ghp_abcdefghijklmnopqrstuvwx pushed", f"{REDACTED} pushed"),
        ("jwt eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.sig-nature", f"jwt {REDACTED}"),
    ],
)
def test_patterns(text: str, expected: str) -> None:
    assert Redactor()(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "max_tokens=100 tokens: 5 token_count=3",
        "step a failed after 2 attempt(s): timeout",
        "passed: 12, secrets: 0",
        "https://example.org/path?page=2",
        "baton_run started",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert Redactor()(text) == text


def test_known_secret_values_are_replaced_longest_first() -> None:
    redact = Redactor(["abcdefgh", "abcdefgh-longer", "short"])
    assert redact("got abcdefgh-longer and abcdefgh") == f"got {REDACTED} and {REDACTED}"
    assert redact("short stays") == "short stays"  # too short to take
    redact.add("xyz-987654")
    assert redact("then xyz-987654") == f"then {REDACTED}"


def test_structured_data_blanks_secret_keys_and_redacts_strings() -> None:
    data = {
        "password": "anything at all",
        "nested": {"auth_token": 123, "note": "Bearer abcdefgh"},
        "items": ["token=abc", 7, None],
        "count": 2,
    }
    assert Redactor().redact_data(data) == {
        "password": REDACTED,
        "nested": {"auth_token": REDACTED, "note": f"Bearer {REDACTED}"},
        "items": [f"token={REDACTED}", 7, None],
        "count": 2,
    }


def test_the_configured_api_key_and_agent_secrets_are_redacted() -> None:
    from baton.observability.logs import LogAggregator
    from baton.store.logs import MemoryLogStore

    settings = Settings(api_key="my-plain-api-key-1", _env_file=None)  # type: ignore[call-arg]
    aggregator = LogAggregator.from_settings(MemoryLogStore(), settings, secrets=["agent-pw-99"])
    assert aggregator.redactor("my-plain-api-key-1 and agent-pw-99") == f"{REDACTED} and {REDACTED}"
