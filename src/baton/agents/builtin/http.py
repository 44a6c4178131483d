"""HTTP agents: ``http.get`` for reading a URL, ``http.request`` for any method.

Two agents rather than one because an agent's risk and idempotency are declared once, in its
spec, not per call: a GET only reads and can be repeated, a POST may change the world and may
not. ``http.get`` is what "fetch" and "download" plan to; ``http.request`` declares the worst
case of what it can do (WRITE, not idempotent) and sends the step's idempotency key as an
``Idempotency-Key`` header so servers that honour it can drop a repeated request.

Both stream the body and stop past ``HttpLimits.max_bytes``, follow at most ``max_redirects``
redirects, bound the whole exchange by a timeout, and map failures onto retry behaviour:
connection errors, timeouts, 408, 429 and 5xx are retryable; other 4xx are not.
"""

from __future__ import annotations

import json as jsonlib
import re
import ssl
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal, cast, get_args

import anyio
import httpx
from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field

from baton.agents.builtin.resources import AgentResources, HttpLimits
from baton.agents.decorator import agent
from baton.agents.parsing.text import find_quoted, find_urls, refers_to_previous
from baton.agents.protocol import Agent, AgentContext, Extraction, ExtractionContext, Risk
from baton.errors import AgentError, AgentInputError, RateLimitedError, RunError

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TAGS = ("builtin", "http")
_JSON_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json\b", re.IGNORECASE)


class HttpGetInput(BaseModel):
    """Inputs of ``http.get``."""

    model_config = ConfigDict(extra="forbid")
    url: str = Field(description="The http or https URL to fetch.")
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    params: dict[str, Any] | None = Field(default=None, description="Query-string parameters.")
    timeout_s: float | None = Field(
        default=None, gt=0, description="Seconds allowed (capped by the configured limit)."
    )


class HttpRequestInput(HttpGetInput):
    """Inputs of ``http.request``."""

    model_config = ConfigDict(extra="forbid", validate_by_name=True, validate_by_alias=True)
    method: Method = Field(default="GET", description="HTTP method.")
    body: str | None = Field(default=None, description="Raw request body (text).")
    json_body: Any | None = Field(
        default=None, alias="json", description="JSON request body (instead of `body`)."
    )
    raise_for_status: bool = Field(
        default=True, description="Fail on a 4xx/5xx answer; false returns it as a result."
    )


class HttpResponse(BaseModel):
    """Output of the HTTP agents."""

    # `json` would shadow BaseModel.json; the alias keeps the contract's field name on the wire.
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)
    status: int = Field(description="HTTP status code.")
    url: str = Field(description="Final URL, after redirects.")
    headers: dict[str, str] = Field(description="Response headers (lower-case names).")
    text: str = Field(description="Response body as text.")
    json_body: Any | None = Field(
        default=None, alias="json", description="Parsed body when the content type is JSON."
    )


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _check_url(url: str) -> None:
    scheme = url.split(":", 1)[0].lower() if ":" in url else ""
    if scheme not in ("http", "https"):
        raise AgentInputError(
            f"refused URL {url!r}: only http and https URLs are fetched",
            hint="write the URL with http:// or https://",
        )


async def _read_body(response: httpx.Response, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise AgentError(f"{response.url} declares {declared} bytes, more than {max_bytes}")
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.aiter_bytes():
        received += len(chunk)
        if received > max_bytes:
            # Stop reading: a lying or missing Content-Length must not fill the memory.
            raise AgentError(f"{response.url} sent more than {max_bytes} bytes; stopped reading")
        chunks.append(chunk)
    return b"".join(chunks)


def _status_error(method: str, response: httpx.Response, text: str) -> RunError | None:
    status = response.status_code
    if status < 400:
        return None
    snippet = " ".join(text.split())[:200]
    message = f"{method} {response.url} answered {status} {response.reason_phrase}"
    if snippet:
        message += f": {snippet}"
    retry_after = parse_retry_after(response.headers.get("retry-after"), datetime.now(UTC))
    if status == 429:
        return RateLimitedError(message, retry_after=retry_after)
    if status >= 500 or status == 408:
        return AgentError(message, retryable=True, retry_after=retry_after)
    return AgentError(message, retryable=False)


def _build_response(response: httpx.Response, data: bytes) -> HttpResponse:
    text = data.decode(response.charset_encoding or "utf-8", errors="replace")
    parsed: Any = None
    if data and _JSON_TYPE.match(response.headers.get("content-type", "")):
        try:
            parsed = jsonlib.loads(text)
        except ValueError:
            parsed = None  # a server mislabelling its body is not our failure; `text` has it
    return HttpResponse(
        status=response.status_code,
        url=str(response.url),
        headers=dict(response.headers.items()),
        text=text,
        json=parsed,
    )


async def send(
    limits: HttpLimits,
    inputs: HttpRequestInput,
    ctx: AgentContext,
    *,
    verify: ssl.SSLContext | bool = True,
) -> HttpResponse:
    """Send one request within `limits` and map the outcome onto baton's errors.

    `verify` is the TLS context; build it off the event loop (it reads the CA bundle).

    Raises:
        AgentInputError: The URL is not http(s) or cannot be parsed.
        AgentError: The request failed; ``retryable`` says whether trying again may help.
        RateLimitedError: The server answered 429 (with ``retry_after`` when it said).
    """
    _check_url(inputs.url)
    if inputs.body is not None and inputs.json_body is not None:
        raise AgentInputError("give either `body` or `json`, not both")
    method = inputs.method
    timeout = min(inputs.timeout_s or limits.timeout_s, limits.timeout_s)
    headers = dict(inputs.headers)
    has_key = any(k.lower() == "idempotency-key" for k in headers)
    if method not in _SAFE_METHODS and ctx.idempotency_key and not has_key:
        headers["Idempotency-Key"] = ctx.idempotency_key
    client = httpx.AsyncClient(
        verify=verify,
        timeout=httpx.Timeout(timeout),
        follow_redirects=True,
        max_redirects=limits.max_redirects,
    )
    try:
        # httpx times each read separately; the outer deadline bounds a slow trickle too.
        with anyio.fail_after(timeout):
            async with (
                client,
                client.stream(
                    method,
                    inputs.url,
                    headers=headers,
                    params=inputs.params,
                    content=inputs.body,
                    json=inputs.json_body,
                ) as response,
            ):
                data = b"" if method == "HEAD" else await _read_body(response, limits.max_bytes)
    except TimeoutError as exc:
        raise AgentError(
            f"{method} {inputs.url} took longer than {timeout:g}s", retryable=True
        ) from exc
    except httpx.TooManyRedirects as exc:
        raise AgentError(
            f"{method} {inputs.url} redirected more than {limits.max_redirects} times",
            hint="check the URL; it may redirect in a loop",
        ) from exc
    except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
        raise AgentInputError(f"cannot request {inputs.url!r}: {exc}") from exc
    except httpx.TimeoutException as exc:
        raise AgentError(f"{method} {inputs.url} timed out: {exc}", retryable=True) from exc
    except httpx.TransportError as exc:
        raise AgentError(
            f"{method} {inputs.url} failed: {exc or type(exc).__name__}", retryable=True
        ) from exc
    result = _build_response(response, data)
    ctx.log(f"{method} {result.url} -> {result.status} ({len(data)} bytes)")
    error = _status_error(method, response, result.text)
    if error is not None and inputs.raise_for_status:
        raise error
    return result


# --- extractors (offline planner) ----------------------------------------------------------

_METHOD_WORDS: dict[str, Method] = {
    "get": "GET",
    "fetch": "GET",
    "download": "GET",
    "head": "HEAD",
    "post": "POST",
    "submit": "POST",
    "send": "POST",
    "put": "PUT",
    "upload": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
    "remove": "DELETE",
}


def extract_get(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "fetch https://example.com/api/items", "download https://x.org/data.json"."""
    urls = find_urls(clause)
    if not urls:
        return Extraction(understood="fetch a URL (no http(s) URL found)")
    return Extraction(inputs={"url": urls[0]}, understood=f"fetch {urls[0]}")


def _json_in(clause: str) -> Any | None:
    start, end = clause.find("{"), clause.rfind("}")
    if start < 0 or end < start:
        return None
    try:
        return jsonlib.loads(clause[start : end + 1])
    except ValueError:
        return None


def extract_request(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "post {"name": "x"} to https://api.example.com/items", "delete https://..."."""
    inputs: dict[str, Any] = {}
    urls = find_urls(clause)
    if urls:
        inputs["url"] = urls[0]
    verb = re.search(r"\b(" + "|".join(_METHOD_WORDS) + r")\b", clause, re.IGNORECASE)
    # An upper-case method name is explicit; a verb ("send", "download") only suggests one.
    explicit = re.search(r"\b(" + "|".join(get_args(Method)) + r")\b", clause)
    method: Method = "GET"
    if explicit:
        method = cast("Method", explicit.group(1))
    elif verb:
        method = _METHOD_WORDS[verb.group(1).lower()]
    if method != "GET":
        inputs["method"] = method
    from_previous: tuple[str, ...] = ()
    payload = _json_in(clause)
    quoted = find_quoted(clause)
    if payload is not None:
        inputs["json"] = payload
    elif quoted:
        inputs["body"] = quoted[0]
    elif method not in _SAFE_METHODS and method != "DELETE" and refers_to_previous(clause):
        # Text flows best between steps ("post the summary"); a JSON body is given literally.
        from_previous = ("body",)
    where = inputs.get("url", "a URL (none found)")
    return Extraction(
        inputs=inputs, from_previous=from_previous, understood=f"send {method} {where}"
    )


class _TlsContext:
    """One TLS context per agent set, built on first use in a worker thread.

    Building it reads the CA bundle from disk, which must not happen on the event loop.
    """

    def __init__(self) -> None:
        self._context: ssl.SSLContext | None = None

    async def get(self) -> ssl.SSLContext:
        if self._context is None:
            self._context = await to_thread.run_sync(httpx.create_ssl_context)
        return self._context


def agents(resources: AgentResources) -> list[Agent]:
    """The HTTP agents, bounded by ``resources.http``."""
    limits = resources.http
    tls = _TlsContext()

    @agent(
        "http.get",
        description=(
            "Fetch a web page or API over http(s) with GET and return its status, text and "
            "parsed JSON."
        ),
        risk=Risk.READ,
        idempotent=True,
        cacheable=False,  # the page may change between runs
        rate_limit_key="http",
        examples=(
            "fetch https://example.com/api/items",
            "download https://x.org/data.json",
            "get the page at https://example.com",
            "call the API at https://api.example.com/status",
        ),
        tags=_TAGS,
        extract=extract_get,
        untrusted_output=True,  # fetched text: what it says is not ours to trust
    )
    async def get(inputs: HttpGetInput, ctx: AgentContext) -> HttpResponse:
        request = HttpRequestInput.model_validate(inputs.model_dump())
        return await send(limits, request, ctx, verify=await tls.get())

    @agent(
        "http.request",
        description=(
            "Send an HTTP request with any method (POST, PUT, PATCH, DELETE, GET) and a text "
            "or JSON body; returns the status, text and parsed JSON."
        ),
        risk=Risk.WRITE,
        idempotent=False,
        rate_limit_key="http",
        untrusted_output=True,
        examples=(
            'post {"name": "widget"} to https://api.example.com/items',
            "send the result to https://hooks.example.com/ingest",
            "delete https://api.example.com/items/42",
            "put the data to https://api.example.com/config",
        ),
        tags=_TAGS,
        extract=extract_request,
    )
    async def request(inputs: HttpRequestInput, ctx: AgentContext) -> HttpResponse:
        return await send(limits, inputs, ctx, verify=await tls.get())

    return [get, request]
