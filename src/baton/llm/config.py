"""Which model baton talks to: the provider resolved from settings and the environment.

Keys come from the providers' usual variables (``GEMINI_API_KEY`` or ``GOOGLE_API_KEY``,
``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``) and are held as `SecretStr`: never printed or
logged. With ``BATON_LLM_PROVIDER=auto`` (the default) the first of these wins: Gemini (the
seed's choice), an OpenAI-compatible endpoint (a key, or ``BATON_LLM_BASE_URL`` for a local
server such as Ollama that needs none), Anthropic; with none, baton plans offline.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import SecretStr

from baton.errors import ConfigError
from baton.settings import Settings

__all__ = ["DEFAULT_MODELS", "KEY_VARIABLES", "LlmConfig", "ProviderName", "resolve_llm_config"]

ProviderName = Literal["gemini", "openai", "anthropic"]
"""The providers baton speaks to (``openai``: any OpenAI-compatible endpoint)."""

DEFAULT_MODELS: dict[ProviderName, str] = {
    "gemini": "gemini-3.8-flash",
    "openai": "gpt-6-luna",
    "anthropic": "claude-haiku-5-5",
}
"""The model used when ``BATON_LLM_MODEL`` is unset (names from pydantic-ai's known models)."""

KEY_VARIABLES: dict[ProviderName, tuple[str, ...]] = {
    "gemini": ("GEMINI_API_KEY", "GOOGLE_API_KEY"),
    "openai": ("OPENAI_API_KEY",),
    "anthropic": ("ANTHROPIC_API_KEY",),
}
"""Where each provider's key is read from, first found wins."""

# A replayed or keyless local endpoint still needs a non-empty key for the SDKs.
_NO_KEY = "not-needed"


@dataclass(frozen=True, slots=True, kw_only=True)
class LlmConfig:
    """A resolved model configuration (`resolve_llm_config`)."""

    provider: ProviderName
    model: str
    base_url: str | None = None
    """The endpoint; None: the provider's own."""
    api_key: SecretStr | None = None
    """None for a keyless local endpoint, or when replaying."""
    key_variable: str | None = None
    """The environment variable the key came from (to name it, never its value)."""
    timeout_s: float = 60.0
    max_retries: int = 3
    max_attempts: int = 3
    record: Path | None = None
    replay: Path | None = None

    def key_value(self) -> str:
        """The key to hand the SDK (a placeholder when there is none)."""
        return self.api_key.get_secret_value() if self.api_key is not None else _NO_KEY

    def __repr__(self) -> str:
        # The dataclass repr would be safe (SecretStr masks), but say so plainly.
        return (
            f"LlmConfig(provider={self.provider!r}, model={self.model!r}, "
            f"base_url={self.base_url!r})"
        )


def _key(provider: ProviderName, environ: Mapping[str, str]) -> tuple[str, SecretStr] | None:
    for name in KEY_VARIABLES[provider]:
        if value := environ.get(name, "").strip():
            return name, SecretStr(value)
    return None


def _auto(settings: Settings, environ: Mapping[str, str]) -> ProviderName | None:
    if _key("gemini", environ) is not None:
        return "gemini"
    if _key("openai", environ) is not None or settings.llm_base_url:
        return "openai"
    if _key("anthropic", environ) is not None:
        return "anthropic"
    return None


def resolve_llm_config(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> LlmConfig | None:
    """The model baton should use, or None when none is configured (plan offline).

    Args:
        settings: ``BATON_LLM_*``.
        environ: Where the providers' key variables are read (default: ``os.environ``).

    Raises:
        ConfigError: a provider is named but its key is missing (the error names the
            variable to set), or the settings contradict each other.
    """
    env = os.environ if environ is None else environ
    if settings.llm_record is not None and settings.llm_replay is not None:
        raise ConfigError(
            "BATON_LLM_RECORD and BATON_LLM_REPLAY are both set",
            hint="record a cassette once, then replay it: unset one of them",
        )
    chosen = settings.llm_provider
    if chosen == "none":
        return None
    provider = _auto(settings, env) if chosen == "auto" else chosen
    if provider is None:
        return None
    key = _key(provider, env)
    keyless_ok = settings.llm_replay is not None or (
        provider == "openai" and settings.llm_base_url is not None
    )
    if key is None and not keyless_ok:
        variables = " or ".join(KEY_VARIABLES[provider])
        extra = " (or BATON_LLM_BASE_URL for a local server)" if provider == "openai" else ""
        raise ConfigError(
            f"BATON_LLM_PROVIDER is {provider} but no API key is set",
            hint=f"set {variables}{extra}, or BATON_LLM_PROVIDER=none to plan offline",
        )
    return LlmConfig(
        provider=provider,
        model=settings.llm_model or DEFAULT_MODELS[provider],
        base_url=settings.llm_base_url,
        api_key=key[1] if key is not None else None,
        key_variable=key[0] if key is not None else None,
        timeout_s=settings.llm_timeout_s,
        max_retries=settings.llm_max_retries,
        max_attempts=settings.llm_max_attempts,
        record=settings.llm_record,
        replay=settings.llm_replay,
    )
