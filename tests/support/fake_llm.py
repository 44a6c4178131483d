"""A fake language-model server on loopback that speaks each provider's real wire format.

One server answers all three APIs, each in its own request and response shapes:

- OpenAI chat completions: ``POST /v1/chat/completions`` (tool calls, or ``response_format``
  JSON), ``usage.prompt_tokens`` / ``completion_tokens``, a ``refusal`` message.
- Anthropic messages: ``POST /v1/messages`` (``tool_use`` blocks), ``usage.input_tokens`` /
  ``output_tokens``, ``stop_reason: "refusal"``.
- Gemini: ``POST /v1beta/models/{model}:generateContent`` (``functionCall`` parts, or JSON text
  under a ``responseSchema``), ``usageMetadata``, ``finishReason: "SAFETY"``.

It plays a script of `Reply` values in order (each request takes the next) and records every
request it got (`Seen`: path, headers, JSON body), so tests can check the wire format.
`client` makes a `ModelClient` pointed at it (or at a cassette).
"""

from __future__ import annotations

import contextlib
import json
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import anyio
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, SecretStr

from baton.llm.client import ModelCallObserver, ModelClient
from baton.llm.config import DEFAULT_MODELS, LlmConfig, ProviderName
from baton.llm.factory import client_for
from support.live_server import live_server

Kind = Literal["value", "text", "status", "hang", "malformed", "refusal"]
Api = Literal["openai", "anthropic", "gemini"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Reply:
    """One scripted answer."""

    kind: Kind
    value: dict[str, Any] | None = None
    text: str = ""
    status: int = 200
    retry_after: str | None = None
    input_tokens: int = 11
    output_tokens: int = 7


def value(obj: dict[str, Any], *, input_tokens: int = 11, output_tokens: int = 7) -> Reply:
    """A structured answer (a tool call, or JSON text when a schema format was asked)."""
    return Reply(kind="value", value=obj, input_tokens=input_tokens, output_tokens=output_tokens)


def text(answer: str, *, input_tokens: int = 11, output_tokens: int = 7) -> Reply:
    """A plain text answer."""
    return Reply(kind="text", text=answer, input_tokens=input_tokens, output_tokens=output_tokens)


def status(code: int, *, retry_after: str | None = None) -> Reply:
    """An error response in the provider's error shape."""
    return Reply(kind="status", status=code, retry_after=retry_after)


def hang() -> Reply:
    """No answer until the server stops (the client times out)."""
    return Reply(kind="hang")


def malformed() -> Reply:
    """A 200 whose body is not JSON."""
    return Reply(kind="malformed")


def refusal() -> Reply:
    """The provider's refusal."""
    return Reply(kind="refusal")


@dataclass(frozen=True, slots=True)
class Seen:
    """A request the server got."""

    api: Api
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass(slots=True)
class FakeLLM:
    """The script, what was asked, and where the server is (``url`` once started)."""

    script: list[Reply]
    requests: list[Seen] = field(default_factory=list[Seen])
    url: str = ""
    _stop: anyio.Event = field(default_factory=anyio.Event)

    def base_url(self, api: Api) -> str:
        """What ``BATON_LLM_BASE_URL`` is for `api` (the SDKs add the rest of the path)."""
        return self.url + "/v1" if api == "openai" else self.url

    def _next(self) -> Reply | None:
        return self.script.pop(0) if self.script else None

    async def answer(self, api: Api, request: Request) -> Response:
        raw = await request.body()
        self.requests.append(
            Seen(
                api=api,
                path=request.url.path,
                query=dict(request.query_params),
                headers={k.lower(): v for k, v in request.headers.items()},
                body=json.loads(raw) if raw else {},
            )
        )
        reply = self._next()
        if reply is None:
            return _error(api, 500, "fake script exhausted", None)
        if reply.kind == "hang":
            await self._stop.wait()
            return _error(api, 500, "server stopping", None)
        if reply.kind == "malformed":
            return Response(b'{"choices": [ {oops', media_type="application/json")
        if reply.kind == "status":
            return _error(api, reply.status, "scripted failure", reply.retry_after)
        body = self.requests[-1].body
        shape = {"openai": _openai, "anthropic": _anthropic, "gemini": _gemini}[api]
        answer = shape(reply, body)
        if api == "anthropic" and body.get("stream"):
            return Response(_anthropic_events(answer), media_type="text/event-stream")
        return JSONResponse(answer)


def _error(api: Api, code: int, message: str, retry_after: str | None) -> Response:
    headers = {"retry-after": retry_after} if retry_after is not None else {}
    if api == "openai":
        content: dict[str, Any] = {
            "error": {"message": message, "type": "server_error", "code": None, "param": None}
        }
    elif api == "anthropic":
        content = {"type": "error", "error": {"type": "api_error", "message": message}}
    else:
        content = {"error": {"code": code, "message": message, "status": "UNAVAILABLE"}}
    return JSONResponse(content, status_code=code, headers=headers)


def _tool_name(tools: list[dict[str, Any]], key: str) -> str:
    return str(tools[0][key]["name"]) if key else str(tools[0]["name"])


def _openai(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    finish = "stop"
    if reply.kind == "refusal":
        message["refusal"] = "I can't help with that."
    elif reply.kind == "text":
        message["content"] = reply.text
    elif body.get("tools"):
        finish = "tool_calls"
        message["tool_calls"] = [
            {
                "id": "call_" + uuid.uuid4().hex[:8],
                "type": "function",
                "function": {
                    "name": _tool_name(body["tools"], "function"),
                    "arguments": json.dumps(reply.value),
                },
            }
        ]
    else:
        message["content"] = json.dumps(reply.value)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_764_115_200,
        "model": body.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": reply.input_tokens,
            "completion_tokens": reply.output_tokens,
            "total_tokens": reply.input_tokens + reply.output_tokens,
        },
    }


def _anthropic(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    stop = "end_turn"
    content: list[dict[str, Any]]
    if reply.kind == "refusal":
        content, stop = [], "refusal"
    elif reply.kind == "text":
        content = [{"type": "text", "text": reply.text}]
    elif body.get("tools") and not (body.get("output_config") or {}).get("format"):
        stop = "tool_use"
        content = [
            {
                "type": "tool_use",
                "id": "toolu_" + uuid.uuid4().hex[:8],
                "name": _tool_name(body["tools"], ""),
                "input": reply.value,
            }
        ]
    else:  # structured output (``output_config.format``): the JSON as text
        content = [{"type": "text", "text": json.dumps(reply.value)}]
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", ""),
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": {"input_tokens": reply.input_tokens, "output_tokens": reply.output_tokens},
    }


def _anthropic_events(message: dict[str, Any]) -> bytes:
    """`message` as the server-sent events of a streamed Anthropic response."""
    events: list[dict[str, Any]] = [
        {
            "type": "message_start",
            "message": message
            | {
                "content": [],
                "stop_reason": None,
                "usage": {"input_tokens": message["usage"]["input_tokens"], "output_tokens": 1},
            },
        }
    ]
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            start = {"type": "text", "text": ""}
            delta = {"type": "text_delta", "text": block["text"]}
        else:
            start = block | {"input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        events += [
            {"type": "content_block_start", "index": index, "content_block": start},
            {"type": "content_block_delta", "index": index, "delta": delta},
            {"type": "content_block_stop", "index": index},
        ]
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
            "usage": {"output_tokens": message["usage"]["output_tokens"]},
        },
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _gemini(reply: Reply, body: dict[str, Any]) -> dict[str, Any]:
    finish = "STOP"
    parts: list[dict[str, Any]]
    config = body.get("generationConfig") or {}
    tools = [d for t in body.get("tools") or [] for d in t.get("functionDeclarations") or []]
    if reply.kind == "refusal":
        parts, finish = [], "SAFETY"
    elif reply.kind == "text":
        parts = [{"text": reply.text}]
    elif tools and not (config.get("responseSchema") or config.get("responseJsonSchema")):
        parts = [{"functionCall": {"name": tools[0]["name"], "args": reply.value}}]
    else:
        parts = [{"text": json.dumps(reply.value)}]
    candidate: dict[str, Any] = {"finishReason": finish, "index": 0}
    if parts:
        candidate["content"] = {"role": "model", "parts": parts}
    return {
        "candidates": [candidate],
        "usageMetadata": {
            "promptTokenCount": reply.input_tokens,
            "candidatesTokenCount": reply.output_tokens,
            "totalTokenCount": reply.input_tokens + reply.output_tokens,
        },
        "modelVersion": "fake",
    }


def _app(fake: FakeLLM) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def openai(request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        return await fake.answer("openai", request)

    @app.post("/v1/messages")
    async def anthropic(request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        return await fake.answer("anthropic", request)

    @app.post("/{version}/models/{model}:generateContent")
    async def gemini(request: Request) -> Response:  # pyright: ignore[reportUnusedFunction]
        return await fake.answer("gemini", request)

    return app


@contextlib.asynccontextmanager
async def fake_llm(*script: Reply) -> AsyncIterator[FakeLLM]:
    """Serve `script` on 127.0.0.1 until the block exits."""
    fake = FakeLLM(list(script))
    async with live_server(_app(fake)) as server:  # pyright: ignore[reportArgumentType]
        fake.url = server.url
        try:
            yield fake
        finally:
            fake._stop.set()  # pyright: ignore[reportPrivateUsage]


@contextlib.contextmanager
def fake_llm_in_thread(*script: Reply) -> Iterator[FakeLLM]:
    """`fake_llm` on its own thread and event loop, for code that runs its own (the CLI)."""
    ready = threading.Event()
    done = threading.Event()
    found: list[FakeLLM] = []

    async def serve() -> None:
        async with fake_llm(*script) as fake:
            found.append(fake)
            ready.set()
            await anyio.to_thread.run_sync(done.wait)

    thread = threading.Thread(target=anyio.run, args=(serve,), daemon=True)
    thread.start()
    if not ready.wait(30):
        raise RuntimeError("the fake model server did not start")
    try:
        yield found[0]
    finally:
        done.set()
        thread.join(30)


# --- clients pointed at the fake ------------------------------------------------------------

KEY = "sk-test-secret-123"


class Weather(BaseModel):
    city: str
    celsius: int


def config_for(
    fake: FakeLLM | None,
    provider: ProviderName,
    *,
    max_retries: int = 2,
    timeout_s: float = 10.0,
    record: Path | None = None,
    replay: Path | None = None,
    model: str | None = None,
    max_attempts: int = 3,
    key_variable: str | None = None,
) -> LlmConfig:
    return LlmConfig(
        provider=provider,
        model=model or DEFAULT_MODELS[provider],
        # Without a server (replaying), a port nothing listens on, under the same paths.
        base_url=(fake or FakeLLM([], url="http://127.0.0.1:9")).base_url(provider),
        api_key=SecretStr(KEY),
        key_variable=key_variable,
        max_attempts=max_attempts,
        timeout_s=timeout_s,
        max_retries=max_retries,
        record=record,
        replay=replay,
    )


def client(
    fake: FakeLLM | None,
    provider: ProviderName,
    *,
    observers: tuple[ModelCallObserver, ...] = (),
    **kw: object,
) -> ModelClient:
    return client_for(config_for(fake, provider, **kw), observers=observers)  # pyright: ignore[reportArgumentType]
