"""`build_model_client`: the configured `ModelClient`, or None to plan offline.

The provider SDKs and pydantic-ai take about five seconds to import, so they are imported
only when a client is built: every CLI command and engine without a model starts without them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from baton.llm.config import LlmConfig, resolve_llm_config
from baton.settings import Settings

if TYPE_CHECKING:
    import httpx2

    from baton.llm.client import ModelCallObserver, ModelClient, SpanFactory

__all__ = ["build_model_client", "client_for"]


def client_for(
    config: LlmConfig,
    *,
    observers: Sequence[ModelCallObserver] = (),
    span: SpanFactory | None = None,
    transport: httpx2.AsyncBaseTransport | None = None,
) -> ModelClient:
    """A client for a resolved configuration.

    Args:
        config: Provider, model, retries, cassette.
        observers: Told of every model call.
        span: Makes a span around each model request.
        transport: The innermost HTTP transport (default: the network).
    """
    from baton.llm.client import ModelClient
    from baton.llm.providers import build_model
    from baton.llm.transport import build_http_client

    http_client = build_http_client(config, wrapped=transport)
    return ModelClient(
        config,
        build_model(config, http_client),
        http_client=http_client,
        observers=observers,
        span=span,
    )


def build_model_client(
    settings: Settings,
    *,
    observers: Sequence[ModelCallObserver] = (),
    span: SpanFactory | None = None,
    environ: Mapping[str, str] | None = None,
) -> ModelClient | None:
    """The client for the configured provider, or None when none is (plan offline).

    Close it with `ModelClient.aclose`.

    Raises:
        ConfigError: a provider is named without its key, or the settings conflict.
    """
    config = resolve_llm_config(settings, environ)
    if config is None:
        return None
    return client_for(config, observers=observers, span=span)
