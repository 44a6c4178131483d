"""`BatonClient.stream`: every event once, in order, across dropped connections."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import anyio
import httpx
import pytest

from baton.client import BatonClient, ServerError
from baton.errors import NotFoundError
from baton.events import ExecutionFinished, RunEvent
from support.api import Api

pytestmark = pytest.mark.anyio

_EVENT_END = re.compile(rb"\r\n\r\n|\n\n|\r\r")


def chain(n: int) -> dict[str, Any]:
    """A chain of `n` quick steps: 2n + 2 events."""
    steps: list[dict[str, Any]] = [
        {"id": "s0", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}
    ]
    for i in range(1, n):
        steps.append(
            {
                "id": f"s{i}",
                "agent": "text.transform",
                "inputs": {"text": f"${{s{i - 1}.text}}", "operation": "upper"},
                "depends_on": [f"s{i - 1}"],
            }
        )
    return {"name": f"{n} steps", "steps": steps}


GATED: dict[str, Any] = {
    "steps": [
        {"id": "draft", "agent": "text.transform", "inputs": {"text": "hi", "operation": "upper"}},
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "${draft.text}"},
            "depends_on": ["draft"],
            "policy": {"critical": True},
        },
    ],
}


class _CutStream(httpx.AsyncByteStream):
    """A response body that stops after `events` SSE events, in the middle of the next one."""

    def __init__(self, inner: httpx.AsyncByteStream, events: int, clean: bool) -> None:
        self._inner = inner
        self._events = events
        self._clean = clean

    async def __aiter__(self) -> AsyncIterator[bytes]:
        buffer, sent = b"", 0
        async for chunk in self._inner:
            buffer += chunk
            while (end := _EVENT_END.search(buffer)) is not None:
                event, buffer = buffer[: end.end()], buffer[end.end() :]
                if b"id:" in event:
                    if sent == self._events:
                        yield event[: len(event) // 2]  # half of it: never delivered
                        if self._clean:
                            return  # the server closed the response (a dropped subscriber)
                        raise httpx.ReadError("connection cut by the test")
                    sent += 1
                yield event
        if buffer:
            yield buffer

    async def aclose(self) -> None:
        await self._inner.aclose()


class Cutter(httpx.AsyncBaseTransport):
    """The network, except that the first `cuts` streams are cut after `events` events each."""

    def __init__(self, *, events: int, cuts: int, clean: bool = False) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self._events = events
        self._cuts = cuts
        self._clean = clean
        self.last_event_ids: list[str | None] = []
        """``Last-Event-ID`` of each stream request, in order."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self._inner.handle_async_request(request)
        if not request.url.path.endswith("/stream"):
            return response
        self.last_event_ids.append(request.headers.get("last-event-id"))
        if self._cuts == 0 or response.status_code != 200:
            return response
        self._cuts -= 1
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return httpx.Response(
            response.status_code,
            headers=response.headers,
            stream=_CutStream(response.stream, self._events, self._clean),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


async def collect(
    client: BatonClient, execution_id: str, **kwargs: Any
) -> list[tuple[int, RunEvent]]:
    with anyio.fail_after(30):
        return [item async for item in client.stream(execution_id, **kwargs)]


async def start(client: BatonClient, plan: dict[str, Any]) -> str:
    started = await client.orchestrate(plan=plan)
    assert started.execution is not None
    return started.execution.id


async def test_a_whole_stream_in_one_connection(api: Api, admin: BatonClient) -> None:
    ex_id = await start(admin, chain(3))

    got = await collect(admin, ex_id)

    assert [seq for seq, _ in got] == list(range(1, 9))
    assert got[0][1].kind == "execution_started"
    assert isinstance(got[-1][1], ExecutionFinished)
    assert got[-1][1].status == "succeeded"
    logged = await admin.events(ex_id)
    assert [(e.seq, e.kind) for e in logged] == [(s, e.kind) for s, e in got]


@pytest.mark.parametrize("clean", [False, True], ids=["connection-error", "server-closed"])
async def test_a_cut_stream_resumes_with_last_event_id_and_loses_nothing(
    api: Api, clean: bool
) -> None:
    cutter = Cutter(events=3, cuts=3, clean=clean)
    async with BatonClient(
        api.url, api.admin_key, transport=cutter, stream_backoff_s=0.01
    ) as client:
        ex_id = await start(client, chain(6))  # 14 events

        got = await collect(client, ex_id)

    assert [seq for seq, _ in got] == list(range(1, 15))  # each exactly once, in order
    assert got[-1][1].kind == "execution_finished"
    assert cutter.last_event_ids == [None, "3", "6", "9"]
    async with BatonClient(api.url, api.admin_key) as plain:
        logged = await plain.events(ex_id)
    assert [e.kind for e in logged] == [e.kind for _, e in got]


async def test_starting_after_an_event_and_past_the_end(admin: BatonClient) -> None:
    ex_id = await start(admin, chain(2))
    everything = await collect(admin, ex_id)

    rest = await collect(admin, ex_id, last_event_id=4)
    nothing = await collect(admin, ex_id, last_event_id=everything[-1][0])

    assert rest == everything[4:]
    assert nothing == []


async def test_it_gives_up_after_its_retries(api: Api) -> None:
    cutter = Cutter(events=0, cuts=100)
    async with BatonClient(
        api.url, api.admin_key, transport=cutter, stream_retries=2, stream_backoff_s=0.01
    ) as client:
        ex_id = await start(client, chain(1))
        with pytest.raises(ServerError, match="connection cut by the test"):
            await collect(client, ex_id)
    assert cutter.last_event_ids == [None, None, None]  # the first try and two retries


async def test_a_stream_that_keeps_ending_early_is_an_error(api: Api) -> None:
    cutter = Cutter(events=0, cuts=100, clean=True)
    async with BatonClient(
        api.url, api.admin_key, transport=cutter, stream_retries=1, stream_backoff_s=0.01
    ) as client:
        ex_id = await start(client, GATED)  # it waits for approval: never finished
        with pytest.raises(ServerError, match="keeps ending before the execution finishes"):
            await collect(client, ex_id)
    assert len(cutter.last_event_ids) == 2


async def test_progress_resets_the_retry_budget(api: Api) -> None:
    # Six cuts in all, one event each time: far more than two retries in a row.
    cutter = Cutter(events=1, cuts=6)
    async with BatonClient(
        api.url, api.admin_key, transport=cutter, stream_retries=1, stream_backoff_s=0.01
    ) as client:
        ex_id = await start(client, chain(3))
        got = await collect(client, ex_id)
    assert [seq for seq, _ in got] == list(range(1, 9))
    assert cutter.last_event_ids == [None, "1", "2", "3", "4", "5", "6"]


async def test_it_follows_a_live_execution_until_it_finishes(admin: BatonClient) -> None:
    ex_id = await start(admin, GATED)
    seen: list[str] = []
    waiting = anyio.Event()

    async def watch() -> None:
        async for _, event in admin.stream(ex_id):
            seen.append(event.kind)
            if event.kind == "execution_waiting":
                waiting.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        with anyio.fail_after(10):
            await waiting.wait()
        [pending] = await admin.approvals()
        await admin.approve(pending.id)
    assert seen[-1] == "execution_finished"
    assert seen.count("execution_started") == 2  # the first run, then the resumed one


async def test_leaving_early_closes_the_stream(api: Api, admin: BatonClient) -> None:
    ex_id = await start(admin, GATED)
    async with aclosing(admin.stream(ex_id)) as events:
        async for _, event in events:
            assert event.kind == "execution_started"
            break
    assert (await admin.health()).status == "ok"  # the client is still usable


async def test_an_unknown_execution_is_not_found_at_once(api: Api) -> None:
    cutter = Cutter(events=0, cuts=0)
    async with BatonClient(
        api.url, api.admin_key, transport=cutter, stream_backoff_s=0.01
    ) as client:
        with pytest.raises(NotFoundError, match="ex_missing"):
            await collect(client, "ex_missing")
    assert cutter.last_event_ids == [None]  # a 404 is not retried


def _sse_server(body: str) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/stream")
        return httpx.Response(200, text=body, headers={"content-type": "text/event-stream"})

    return httpx.MockTransport(answer)


def _sse(seq: int, event: dict[str, Any]) -> str:
    return f"id: {seq}\ndata: {json.dumps(event)}\n\n"


async def test_kinds_of_event_a_newer_server_adds_are_passed_over() -> None:
    body = (
        _sse(1, {"kind": "step_started", "execution_id": "ex1", "step_id": "a", "attempt": 1})
        + _sse(2, {"kind": "something_new", "execution_id": "ex1", "detail": 1})
        + _sse(3, {"kind": "execution_finished", "execution_id": "ex1", "status": "succeeded"})
    )
    async with BatonClient("http://baton.test", "k", transport=_sse_server(body)) as client:
        got = await collect(client, "ex1")
    assert [(seq, event.kind) for seq, event in got] == [
        (1, "step_started"),
        (3, "execution_finished"),
    ]


async def test_a_known_kind_that_does_not_read_is_an_error() -> None:
    body = _sse(1, {"kind": "step_started", "execution_id": "ex1", "attempt": "many"})
    async with BatonClient("http://baton.test", "k", transport=_sse_server(body)) as client:
        with pytest.raises(ServerError, match="cannot read"):
            await collect(client, "ex1")
