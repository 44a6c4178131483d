"""http.get / http.request against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

import pytest

from baton.agents.builtin import http
from baton.agents.builtin.resources import AgentResources, HttpLimits
from baton.agents.protocol import Agent, AgentContext, ExtractionContext, Risk
from baton.errors import AgentError, AgentInputError, RateLimitedError

pytestmark = pytest.mark.anyio


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(
        self, status: int, body: bytes, ctype: str, extra: dict[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _hop(self) -> None:
        n = int(self.path.rsplit("/", 1)[1])
        self._send(302, b"", "text/plain", {"Location": "/json" if n == 0 else f"/hop/{n - 1}"})

    def _big(self) -> None:  # no Content-Length: the limit must hold while streaming
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        for _ in range(20):
            self.wfile.write(b"x" * 100)

    def _slow(self) -> None:
        time.sleep(1.0)
        self._send(200, b"late", "text/plain")

    def _unavailable(self) -> None:
        when = format_datetime(datetime.now(UTC) + timedelta(seconds=120), usegmt=True)
        self._send(503, b"maintenance", "text/plain", {"Retry-After": when})

    def _echo(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        echo = {
            "method": self.command,
            "query": self.path.partition("?")[2],
            "idempotency_key": self.headers.get("Idempotency-Key"),
            "body": self.rfile.read(length).decode(),
            "content_type": self.headers.get("Content-Type"),
        }
        self._send(200, json.dumps(echo).encode(), "application/json")

    def _route(self) -> None:
        path = self.path.split("?")[0]
        fixed = {
            "/json": (200, b'{"items": [1, 2]}', "application/json; charset=utf-8", {}),
            "/problem": (200, b'{"ok": true}', "application/problem+json", {}),
            "/text": (200, "café".encode("latin-1"), "text/plain; charset=latin-1", {}),
            "/big-declared": (200, b"y" * 5000, "text/plain", {}),
            "/429": (429, b"slow down", "text/plain", {"Retry-After": "7"}),
            "/404": (404, b"no such item", "text/plain", {}),
        }
        handlers = {"/big": self._big, "/slow": self._slow, "/503-date": self._unavailable}
        handlers["/echo"] = self._echo
        if path in fixed:
            self._send(*fixed[path])
        elif path.startswith("/hop/"):
            self._hop()
        elif path in handlers:
            handlers[path]()
        else:
            self._send(500, b"unknown route", "text/plain")

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _route


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _no_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
        "http_proxy",
        "https_proxy",
        "all_proxy",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def by_name(tmp_path: Path) -> dict[str, Agent]:
    limits = HttpLimits(timeout_s=0.3, max_bytes=1000, max_redirects=2)
    resources = AgentResources(workspace=tmp_path, calendar=cast("Any", object()), http=limits)
    return {a.spec.name: a for a in http.agents(resources)}


async def call(agent: Agent, **inputs: Any) -> dict[str, Any]:
    ctx = AgentContext(execution_id="e1", step_id="s1", idempotency_key="idem-42")
    model = agent.spec.input_model.model_validate(inputs)
    return (await agent.run(model, ctx)).model_dump()


def test_specs(by_name: dict[str, Agent]) -> None:
    get, request = by_name["http.get"].spec, by_name["http.request"].spec
    assert (get.risk, get.idempotent, get.rate_limit_key) == (Risk.READ, True, "http")
    assert (request.risk, request.idempotent, request.rate_limit_key) == (Risk.WRITE, False, "http")
    assert "json" in request.input_model.model_json_schema()["properties"]
    assert "json" in get.output_model.model_json_schema()["properties"]


async def test_get_parses_json(by_name: dict[str, Agent], server: str) -> None:
    out = await call(by_name["http.get"], url=f"{server}/json")
    assert out["status"] == 200
    assert out["json"] == {"items": [1, 2]}
    assert out["text"] == '{"items": [1, 2]}'
    assert out["headers"]["content-type"].startswith("application/json")


async def test_structured_json_types_are_parsed_and_text_is_not(
    by_name: dict[str, Agent], server: str
) -> None:
    assert (await call(by_name["http.get"], url=f"{server}/problem"))["json"] == {"ok": True}
    out = await call(by_name["http.get"], url=f"{server}/text")
    assert out["text"] == "café"
    assert out["json"] is None


async def test_redirects_are_followed_up_to_the_limit(
    by_name: dict[str, Agent], server: str
) -> None:
    out = await call(by_name["http.get"], url=f"{server}/hop/1")
    assert out["url"] == f"{server}/json"
    with pytest.raises(AgentError, match="redirected more than 2 times") as err:
        await call(by_name["http.get"], url=f"{server}/hop/5")
    assert err.value.retryable is False


@pytest.mark.parametrize("path", ["/big", "/big-declared"])
async def test_body_size_limit(by_name: dict[str, Agent], server: str, path: str) -> None:
    with pytest.raises(AgentError, match="1000") as err:
        await call(by_name["http.get"], url=f"{server}{path}")
    assert err.value.retryable is False


async def test_timeout_is_retryable(by_name: dict[str, Agent], server: str) -> None:
    started = time.monotonic()
    with pytest.raises(AgentError) as err:
        await call(by_name["http.get"], url=f"{server}/slow", timeout_s=5)  # capped at 0.3 s
    assert err.value.retryable is True
    assert time.monotonic() - started < 0.9


async def test_429_carries_retry_after(by_name: dict[str, Agent], server: str) -> None:
    with pytest.raises(RateLimitedError) as err:
        await call(by_name["http.get"], url=f"{server}/429")
    assert err.value.retryable is True
    assert err.value.retry_after == 7.0


async def test_5xx_is_retryable_with_http_date(by_name: dict[str, Agent], server: str) -> None:
    with pytest.raises(AgentError, match="503") as err:
        await call(by_name["http.get"], url=f"{server}/503-date")
    assert err.value.retryable is True
    assert err.value.retry_after is not None
    assert 100 < err.value.retry_after <= 120


async def test_404_fails_without_retry_unless_allowed(
    by_name: dict[str, Agent], server: str
) -> None:
    with pytest.raises(AgentError, match="404 Not Found: no such item") as err:
        await call(by_name["http.get"], url=f"{server}/404")
    assert err.value.retryable is False
    out = await call(by_name["http.request"], url=f"{server}/404", raise_for_status=False)
    assert out["status"] == 404
    assert out["text"] == "no such item"


async def test_connection_refused_is_retryable(by_name: dict[str, Agent]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(AgentError) as err:
        await call(by_name["http.get"], url=f"http://127.0.0.1:{port}/")
    assert err.value.retryable is True


@pytest.mark.parametrize("url", ["ftp://example.com/x", "file:///etc/passwd", "example.com"])
async def test_only_http_schemes(by_name: dict[str, Agent], url: str) -> None:
    with pytest.raises(AgentInputError, match="only http and https"):
        await call(by_name["http.get"], url=url)


async def test_post_sends_json_and_idempotency_key(by_name: dict[str, Agent], server: str) -> None:
    out = await call(
        by_name["http.request"],
        url=f"{server}/echo",
        method="POST",
        json={"a": 1},
        params={"q": "x"},
    )
    echo = out["json"]
    assert echo["method"] == "POST"
    assert echo["query"] == "q=x"
    assert echo["idempotency_key"] == "idem-42"
    assert json.loads(echo["body"]) == {"a": 1}
    assert echo["content_type"] == "application/json"


async def test_get_sends_no_idempotency_key(by_name: dict[str, Agent], server: str) -> None:
    out = await call(by_name["http.get"], url=f"{server}/echo")
    assert out["json"]["idempotency_key"] is None


async def test_body_and_json_together_are_refused(by_name: dict[str, Agent], server: str) -> None:
    with pytest.raises(AgentInputError, match="not both"):
        await call(by_name["http.request"], url=f"{server}/echo", method="PUT", body="x", json={})


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert http.parse_retry_after("12", now) == 12.0
    assert http.parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", now) == 30.0
    assert http.parse_retry_after("Wed, 31 Dec 2025 00:00:00 GMT", now) == 0.0
    assert http.parse_retry_after("soon", now) is None
    assert http.parse_retry_after(None, now) is None


NOW = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC))
AFTER = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC), previous_agents=("text.summarize",))


@pytest.mark.parametrize(
    ("clause", "url"),
    [
        ("fetch https://example.com/api/items", "https://example.com/api/items"),
        ("download https://x.org/data.json.", "https://x.org/data.json"),
        ("get the page (https://example.com/a_(b)) now", "https://example.com/a_(b)"),
    ],
)
def test_extract_get(clause: str, url: str) -> None:
    assert http.extract_get(clause, NOW).inputs == {"url": url}


def test_extract_get_without_url() -> None:
    assert http.extract_get("fetch the page", NOW).inputs == {}


def test_extract_request() -> None:
    e = http.extract_request('post {"name": "widget"} to https://api.example.com/items', NOW)
    assert e.inputs == {
        "url": "https://api.example.com/items",
        "method": "POST",
        "json": {"name": "widget"},
    }
    e = http.extract_request("send a DELETE request to https://api.example.com/items/4", NOW)
    assert e.inputs == {"url": "https://api.example.com/items/4", "method": "DELETE"}
    e = http.extract_request("post the summary to https://hooks.example.com/in", AFTER)
    assert e.from_previous == ("body",)
    assert e.inputs["method"] == "POST"
