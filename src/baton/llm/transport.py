"""The HTTP client under every provider: bounded retries with backoff, record and replay.

Retries happen here, once, for every provider (the SDKs' own are turned off): a 429, a
5xx, a timeout or a refused connection is retried up to ``max_retries`` times, waiting what
the provider's ``Retry-After`` asks (capped) or an exponential backoff. When the retries are
spent, the last error response goes up to the SDK as it came, so the error the caller sees
names the provider's status.
"""

from __future__ import annotations

import httpx2
from pydantic_ai.retries import AsyncHTTPX2TenacityTransport, RetryConfig, wait_retry_after
from tenacity import RetryCallState, retry_if_exception_type, stop_after_attempt, wait_exponential

from baton.llm.config import LlmConfig
from baton.llm.replay import RecordingTransport, ReplayTransport

__all__ = ["RETRY_STATUSES", "build_http_client", "retrying_transport"]

RETRY_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504, 529})
"""Statuses worth another try (529: Anthropic's "overloaded")."""

MAX_WAIT_S = 60.0
"""Longest wait between two tries, whatever ``Retry-After`` says."""


class _RetryableStatus(httpx2.HTTPStatusError):
    """A response worth retrying.

    `wait_retry_after` reads its ``Retry-After``; its body is read, so it can still be handed
    up when the retries are spent.
    """

    def __init__(self, response: httpx2.Response) -> None:
        super().__init__(
            f"HTTP {response.status_code}", request=response.request, response=response
        )


class _ReadErrorBodies(httpx2.AsyncBaseTransport):
    """Reads error responses whole, so the last one can still be handed up after retries."""

    def __init__(self, wrapped: httpx2.AsyncBaseTransport) -> None:
        self.wrapped = wrapped

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        response = await self.wrapped.handle_async_request(request)
        if response.status_code in RETRY_STATUSES:
            await response.aread()
        return response

    async def aclose(self) -> None:
        await self.wrapped.aclose()


def _validate(response: httpx2.Response) -> None:
    if response.status_code in RETRY_STATUSES:
        raise _RetryableStatus(response)


def _give_up(state: RetryCallState) -> httpx2.Response:
    # Retries are spent: an error status goes up as the response it was, anything else raises.
    assert state.outcome is not None
    exc = state.outcome.exception()
    if isinstance(exc, _RetryableStatus):
        last = exc.response
        return httpx2.Response(
            last.status_code, headers=last.headers, content=last.content, request=last.request
        )
    return state.outcome.result()


def retrying_transport(
    wrapped: httpx2.AsyncBaseTransport, *, max_retries: int, backoff_s: float = 0.5
) -> AsyncHTTPX2TenacityTransport:
    """`wrapped` with up to `max_retries` retries of 429/5xx/timeouts/connection errors.

    Args:
        wrapped: The transport that talks to the provider (or a cassette).
        max_retries: Tries after the first.
        backoff_s: First wait of the exponential backoff when no ``Retry-After`` is given.
    """
    config = RetryConfig(
        retry=retry_if_exception_type(
            (_RetryableStatus, httpx2.TimeoutException, httpx2.NetworkError)
        ),
        wait=wait_retry_after(
            fallback_strategy=wait_exponential(multiplier=backoff_s, max=MAX_WAIT_S),
            max_wait=MAX_WAIT_S,
        ),
        stop=stop_after_attempt(max_retries + 1),
        reraise=False,
        retry_error_callback=_give_up,
    )
    return AsyncHTTPX2TenacityTransport(
        config, wrapped=_ReadErrorBodies(wrapped), validate_response=_validate
    )


def build_http_client(
    config: LlmConfig, *, wrapped: httpx2.AsyncBaseTransport | None = None
) -> httpx2.AsyncClient:
    """The HTTP client a provider's SDK is given.

    Args:
        config: Timeout, retries, and the cassette to record to or replay from.
        wrapped: The innermost transport (default: the network; tests may pass another).
    """
    inner: httpx2.AsyncBaseTransport
    if config.replay is not None:
        inner = ReplayTransport(config.replay)
    else:
        inner = wrapped or httpx2.AsyncHTTPTransport()
        if config.record is not None:
            inner = RecordingTransport(config.record, inner)
    transport = retrying_transport(inner, max_retries=config.max_retries)
    return httpx2.AsyncClient(transport=transport, timeout=httpx2.Timeout(config.timeout_s))
