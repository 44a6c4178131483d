"""SSE under load: 200 subscribers to one execution of 1,000 events.

- 175 read everything in one connection;
- 20 (10%) disconnect part-way, at a random event, and resume with ``Last-Event-ID``;
- 5 stop reading after the request (their sockets' receive buffers are tiny and never
  drained): the server must drop them, never slowing the execution or the others.

Every reading subscriber must get events 1..1000 in order, each exactly once; the stalled
ones must be dropped; the events buffered in the server stay bounded by subscribers x queue
size at every moment, and the execution's pace does not depend on the stalled clients.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse

from baton.agents.decorator import agent
from baton.agents.protocol import AgentContext
from baton.api.app import create_app
from baton.app import Baton
from baton.settings import Settings
from support.live_server import live_server
from support.poll import wait_until

pytestmark = pytest.mark.anyio

TOTAL_EVENTS = 1_000
# execution_started + step_started + logs + step_succeeded + execution_finished
LOGS = TOTAL_EVENTS - 4
READERS, RESUMERS, STALLED = 175, 20, 5
QUEUE = 64
PAYLOAD = "x" * 500  # large events fill a stalled client's socket buffers soon


def emitter(release: anyio.Event) -> object:
    @agent("test.emit", description="Emit log lines once released.")
    async def emit(count: int, ctx: AgentContext) -> int:
        await release.wait()
        for i in range(count):
            ctx.log(f"{i} {PAYLOAD}")
            if i % 20 == 19:
                await anyio.sleep(0.01)  # a live pace: the log is written as it goes
        return count

    return emit


async def read_all(
    url: str, key: str, ex_id: str, *, cut_at: int | None, resumes: list[int]
) -> list[int]:
    """Read the stream to ``execution_finished``, as a real client does: whenever the
    connection ends first (the server let a slow reader go), resume by ``Last-Event-ID``.
    With `cut_at`, also drop the connection there on purpose. Every resume is counted."""
    seqs: list[int] = []
    finished = False
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
        while not finished:
            if seqs:
                resumes.append(seqs[-1])
            resume = {"Last-Event-ID": str(seqs[-1])} if seqs else {}
            async with aconnect_sse(
                http, "GET", f"/api/orchestrate/{ex_id}/stream", headers=resume
            ) as source:
                async for sse in source.aiter_sse():
                    seqs.append(int(sse.id))
                    finished = sse.event == "execution_finished"
                    if cut_at is not None and len(seqs) == cut_at:
                        cut_at = None  # leaving the block closes the connection: resume
                        break
        return seqs


async def stall(url: str, key: str, ex_id: str, opened: list[socket.socket]) -> None:
    """Send the request, then never read: a client whose network stopped."""
    host, port = url.removeprefix("http://").split(":")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: tiny window
    sock.setblocking(False)
    sock.connect_ex((host, int(port)))
    await anyio.wait_writable(sock)
    request = (
        f"GET /api/orchestrate/{ex_id}/stream HTTP/1.1\r\nHost: {host}\r\n"
        f"Authorization: Bearer {key}\r\nAccept: text/event-stream\r\n\r\n"
    )
    sock.send(request.encode())
    opened.append(sock)  # kept open, never read; closed at the end


async def test_200_subscribers_with_resumes_and_stalls(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        workspace=tmp_path,
        stream_queue_size=QUEUE,
        stream_send_timeout_s=2.0,
        _env_file=None,
    )
    release = anyio.Event()
    keys: list[str] = []
    peak_queued = 0
    async with Baton.open(
        settings,
        in_memory=True,
        discover_plugins=False,
        agents=[emitter(release)],  # type: ignore[list-item]
    ) as baton:
        app = create_app(settings, baton=baton, on_first_key=keys.append)
        async with live_server(app) as server:
            key = keys[0]
            async with httpx.AsyncClient(
                base_url=server.url, headers={"Authorization": f"Bearer {key}"}
            ) as http:
                plan = {"steps": [{"id": "emit", "agent": "test.emit", "inputs": {"count": LOGS}}]}
                started = await http.post("/api/orchestrate", json={"plan": plan})
                ex_id = started.json()["execution"]["id"]

            rng = random.Random(7)
            results: dict[int, list[int]] = {}
            resumed_at: list[int] = []
            stalled: list[socket.socket] = []

            async def reader(n: int, cut_at: int | None) -> None:
                results[n] = await read_all(
                    server.url, key, ex_id, cut_at=cut_at, resumes=resumed_at
                )

            async def watch_memory() -> None:
                nonlocal peak_queued
                while True:
                    peak_queued = max(peak_queued, baton.bus.queued_events)
                    await anyio.sleep(0.005)

            try:
                with anyio.fail_after(90):
                    async with anyio.create_task_group() as tg:
                        tg.start_soon(watch_memory)
                        async with anyio.create_task_group() as clients:
                            for n in range(READERS):
                                clients.start_soon(reader, n, None)
                            for n in range(READERS, READERS + RESUMERS):
                                clients.start_soon(reader, n, rng.randrange(1, TOTAL_EVENTS))
                            for _ in range(STALLED):
                                await stall(server.url, key, ex_id, stalled)
                            everyone = READERS + RESUMERS + STALLED
                            await wait_until(lambda: baton.bus.subscribers == everyone)
                            began = anyio.current_time()
                            release.set()
                        took = anyio.current_time() - began
                        # The stalled clients are still connected, and never read: the
                        # server must have let go of them by itself.
                        with anyio.move_on_after(10):
                            await wait_until(lambda: baton.bus.subscribers == 0)
                        left_attached = baton.bus.subscribers
                        tg.cancel_scope.cancel()
            finally:
                for sock in stalled:
                    sock.close()

    expected = list(range(1, TOTAL_EVENTS + 1))
    complete = sum(1 for seqs in results.values() if seqs == expected)
    print(  # noqa: T201  # the figures this test is about
        f"\nSSE load: {len(results)} reading subscribers ({len(resumed_at)} resumptions, "
        f"{RESUMERS} of them planned), {complete} got "
        f"all {TOTAL_EVENTS} events in order; stalled clients let go of: "
        f"{STALLED - left_attached}/{STALLED} ({baton.bus.dropped_total} for a full buffer, "
        f"the rest by the send timeout); peak buffered events {peak_queued} "
        f"(bound {(READERS + RESUMERS + STALLED) * QUEUE}); run took {took:.2f} s"
    )
    assert len(results) == READERS + RESUMERS
    assert len(resumed_at) >= RESUMERS
    assert complete == READERS + RESUMERS
    assert left_attached == 0
    assert peak_queued <= (READERS + RESUMERS + STALLED) * QUEUE
    assert baton.bus.subscribers == 0
