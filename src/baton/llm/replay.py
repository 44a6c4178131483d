"""Record model traffic to a cassette, and answer from it later with no provider at all.

A cassette is a JSONL file, one exchange a line::

    {"request": {"method": "POST", "url": "...", "headers": {...}, "body": ...},
     "response": {"status": 200, "headers": {...}, "body": "..."}}

`RecordingTransport` writes what went over the wire, keys redacted (``Authorization``,
``x-api-key``, ``x-goog-api-key``, ``api-key`` headers and ``key=`` query parameters), so a
run made once with a real key can be committed. `ReplayTransport` answers requests from a
cassette in order and fails, naming both, on a request that is not the one recorded next
(same method, path and query; the host may differ).
Both sit under the retrying transport, so recorded retries replay as retries.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import httpx2

from baton.errors import ConfigError, ModelError

__all__ = ["REDACTED", "RecordingTransport", "ReplayTransport", "redact_url"]

REDACTED = "REDACTED"
_SECRET_HEADERS = frozenset({"authorization", "x-api-key", "x-goog-api-key", "api-key"})
_SECRET_PARAMS = frozenset({"key", "api_key"})
# Only what changes how a response is read; Content-Encoding is gone once the body is decoded.
_KEPT_RESPONSE_HEADERS = frozenset({"content-type", "retry-after"})


def redact_url(url: httpx2.URL) -> str:
    """`url` with the values of key-carrying query parameters replaced by ``REDACTED``."""
    params = [
        (k, REDACTED if k.lower() in _SECRET_PARAMS else v) for k, v in url.params.multi_items()
    ]
    return str(url.copy_with(params=params)) if params else str(url)


def _body(content: bytes) -> Any:
    if not content:
        return None
    try:
        return json.loads(content)
    except ValueError:
        return content.decode("utf-8", errors="replace")


def _request_entry(request: httpx2.Request) -> dict[str, Any]:
    headers = {
        k.lower(): (REDACTED if k.lower() in _SECRET_HEADERS else v)
        for k, v in request.headers.items()
    }
    return {
        "method": request.method,
        "url": redact_url(request.url),
        "headers": headers,
        "body": _body(request.content),
    }


def _target(method: str, url: str) -> str:
    # The host is configuration (a cassette recorded against the provider replays against
    # any base URL); the method, path and query are the request.
    parsed = httpx2.URL(url)
    query = f"?{parsed.query.decode()}" if parsed.query else ""
    return f"{method} {parsed.path}{query}"


class RecordingTransport(httpx2.AsyncBaseTransport):
    """Passes requests to `wrapped` and appends each exchange to the cassette at `path`."""

    def __init__(self, path: Path, wrapped: httpx2.AsyncBaseTransport) -> None:
        """Record to `path` (created, or appended to) what `wrapped` exchanges."""
        self.path = path
        self.wrapped = wrapped

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send, read the whole response, record the exchange, return the response."""
        await request.aread()
        response = await self.wrapped.handle_async_request(request)
        content = await response.aread()
        await response.aclose()
        headers = {
            k.lower(): v for k, v in response.headers.items() if k.lower() in _KEPT_RESPONSE_HEADERS
        }
        entry = {
            "request": _request_entry(request),
            "response": {
                "status": response.status_code,
                "headers": headers,
                "body": content.decode("utf-8", errors="replace"),
            },
        }
        line = json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n"
        await anyio.Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        async with await anyio.open_file(self.path, "a", encoding="utf-8") as f:
            await f.write(line)
        return httpx2.Response(
            response.status_code, headers=headers, content=content, request=request
        )

    async def aclose(self) -> None:
        """Close the wrapped transport."""
        await self.wrapped.aclose()


class ReplayTransport(httpx2.AsyncBaseTransport):
    """Answers requests from a cassette, in the order recorded; no network at all."""

    def __init__(self, path: Path) -> None:
        """Read the cassette at `path`.

        Raises:
            ConfigError: it cannot be read or is not a cassette.
        """
        self.path = path
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise ConfigError(
                f"cannot read the model cassette {path}: {exc.strerror}",
                hint="check BATON_LLM_REPLAY",
            ) from None
        self.entries: list[dict[str, Any]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if not (
                    isinstance(entry["request"]["method"], str)
                    and isinstance(entry["request"]["url"], str)
                    and isinstance(entry["response"]["status"], int)
                ):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                raise ConfigError(
                    f"{path}:{number} is not a cassette entry",
                    hint="record one with BATON_LLM_RECORD",
                ) from None
            self.entries.append(entry)
        self.position = 0
        """How many entries have been replayed."""

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """The next recorded response, if `request` is the next recorded request.

        Raises:
            ModelError: the cassette is used up, or its next request is another one.
        """
        got = _target(request.method, redact_url(request.url))
        if self.position >= len(self.entries):
            raise ModelError(
                f"the model cassette {self.path} has no more answers ({len(self.entries)} "
                f"replayed); unexpected request: {got}",
                hint="record the cassette again with BATON_LLM_RECORD",
            )
        entry = self.entries[self.position]
        want = _target(entry["request"]["method"], entry["request"]["url"])
        if want != got:
            raise ModelError(
                f"the model cassette {self.path} does not match at exchange "
                f"{self.position + 1}: recorded {want}, got {got}",
                hint="record the cassette again with BATON_LLM_RECORD",
            )
        self.position += 1
        response = entry["response"]
        return httpx2.Response(
            int(response["status"]),
            headers=dict(response.get("headers") or {}),
            content=str(response.get("body") or "").encode(),
            request=request,
        )
