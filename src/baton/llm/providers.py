"""The pydantic-ai model for a resolved configuration, one provider class each.

Each SDK is handed baton's HTTP client (`baton.llm.transport`: bounded retries with
backoff, record/replay) and has its own retries turned off, so a request is retried once,
in one place, and counted once.
"""

from __future__ import annotations

import httpx2
from anthropic import AsyncAnthropic
from openai import AsyncOpenAI
from pydantic_ai.models import Model
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.google import GoogleModel
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.anthropic import AnthropicProvider
from pydantic_ai.providers.google import GoogleProvider
from pydantic_ai.providers.openai import OpenAIProvider

from baton.llm.config import LlmConfig

__all__ = ["build_model"]


def build_model(config: LlmConfig, http_client: httpx2.AsyncClient) -> Model:
    """The pydantic-ai model for `config`, sending through `http_client`."""
    key = config.key_value()
    if config.provider == "gemini":
        # google-genai retries only when given retry options: none are given.
        provider = GoogleProvider(api_key=key, http_client=http_client, base_url=config.base_url)
        return GoogleModel(config.model, provider=provider)
    if config.provider == "anthropic":
        client = AsyncAnthropic(
            api_key=key,
            base_url=config.base_url,
            http_client=http_client,
            max_retries=0,
            timeout=config.timeout_s,
        )
        return AnthropicModel(config.model, provider=AnthropicProvider(anthropic_client=client))
    openai = AsyncOpenAI(
        api_key=key,
        base_url=config.base_url,
        http_client=http_client,
        max_retries=0,
        timeout=config.timeout_s,
    )
    return OpenAIChatModel(config.model, provider=OpenAIProvider(openai_client=openai))
