"""API benchmark: requests/s and latency of two routes, and SSE fan-out latency.

The server is a real uvicorn process (uvloop and httptools when installed, as uvicorn's
``auto`` picks them) serving `create_app` on 127.0.0.1, over SQLite in a temporary data
folder (the embedded default; ``--store memory`` keeps state in memory). The load comes from
other processes, so the load generator does not share the server's event loop:

- ``get``: ``GET /api/orchestrate/{id}`` of one finished execution (a one-step plan run
  first), and ``post``: ``POST /api/orchestrate`` with ``{"request": ..., "dry_run": true}``
  (plans and validates, runs nothing). ``--connections`` (50) clients, each with its own
  keep-alive connection, send their next request as soon as the answer to the previous one
  is read (a closed loop, no think time), over raw asyncio streams: about 40 us of client
  CPU per request, where httpx.AsyncClient took 2.9 ms (more than the server's answer, on a
  machine where the two compete). After ``--warmup`` seconds, ``--seconds`` are measured.
- ``sse``: ``--subscribers`` (500) streams of one execution, opened by ``--sse-procs``
  processes while the execution waits for the approval of its first step; once every
  stream has replayed the log up to ``execution_waiting``, the step is approved and the
  execution runs a chain of ``--steps`` steps that each sleep ``--step-ms``. The
  subscribers only timestamp what they read (parsing comes after the run).

Figures:

- req/s: answers with the expected status completed in the measured window / its length.
- latency (GET, POST): from writing the request to having read the whole answer.
- SSE latency: time a subscriber process read the event from its socket - the event's
  ``at`` (set by the executor when it made the event, before it was committed; one clock,
  one machine), over every (subscriber, event) pair made after the approval; "to all" is, per
  event, the latency of the last subscriber to get it.
- CPU: user + system CPU time of each process over the measured window, in % of one core
  (100% is a saturated process).

    .venv/bin/python bench/bench_api.py                   # get, post, sse on SQLite
    .venv/bin/python bench/bench_api.py --store memory --seconds 5
    .venv/bin/python bench/bench_api.py --scenarios sse --subscribers 500 --sse-procs 2
    .venv/bin/python bench/bench_api.py --json
    .venv/bin/python bench/bench_api.py --scenarios get --profile /tmp/server.prof
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import json
import math
import os
import platform
import pstats
import resource
import select
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

sys.path.insert(0, str(Path(__file__).parent))

SCENARIOS = ("get", "post", "sse")
DRY_RUN_BODY = {"request": "uppercase the text 'hello world'", "dry_run": True}
ONE_STEP = {
    "plan": {
        "name": "bench",
        "steps": [
            {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}
        ],
    }
}
GOAL_GET_P99_MS = 50.0
GOAL_SSE_P99_MS = 100.0
SATURATED_PCT = 90.0


# --- shared helpers ---------------------------------------------------------------------


def _raise_nofile() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def _run_async(main: Coroutine[Any, Any, Any]) -> Any:
    """Run `main` on uvloop when it is installed (as uvicorn's loop="auto" would)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def _percentile(ordered: list[float], p: float) -> float:
    """Nearest-rank percentile of an ascending list (nan when empty)."""
    if not ordered:
        return math.nan
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    out = {f"p{p}_ms": round(_percentile(ordered, p), 2) for p in (50, 90, 99)}
    out["max_ms"] = round(ordered[-1], 2) if ordered else math.nan
    return out


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _machine_busy_seconds() -> float:
    """CPU time all cores spent not idle so far (steal included), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def _sample(pids: list[int]) -> list[float]:
    """CPU seconds of each process, then of the whole machine."""
    return [*(_cpu_seconds(p) for p in pids), _machine_busy_seconds()]


def _cpu_pct(before: list[float], after: list[float], seconds: float) -> tuple[list[int], int]:
    """% of one core for each process, and for the rest of the machine."""
    used = [(a - b) / seconds * 100 for a, b in zip(after, before, strict=True)]
    machine = used.pop()
    return [round(u) for u in used], round(max(0.0, machine - sum(used)))


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _http_request(method: str, path: str, key: str, body: bytes | None = None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + (body or b"")


# --- the server process ------------------------------------------------------------------


def _serve(store: str, data_dir: str, profile: str | None) -> None:
    """Serve the API on a free loopback port; say where on stdout; stop at EOF on stdin."""
    _raise_nofile()
    profiler = cProfile.Profile() if profile else None
    if profiler is not None:
        profiler.enable()
    try:
        _run_async(_serve_async(store, Path(data_dir)))
    finally:
        if profiler is not None and profile:
            profiler.disable()
            profiler.dump_stats(profile)


async def _serve_async(store: str, data_dir: Path) -> None:
    import uvicorn

    from baton.api.app import create_app
    from baton.app import Baton
    from baton.settings import Settings
    from workloads import BENCH_AGENTS

    # A fresh SQLite file whatever BATON_* says; the first start makes the admin key.
    settings = Settings(
        data_dir=data_dir,
        workspace=data_dir,
        database_url=None,
        _env_file=None,  # type: ignore[call-arg]
    )
    settings.prepare_data_dir()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    keys: list[str] = []
    opened = Baton.open(
        settings, in_memory=store == "memory", agents=BENCH_AGENTS, discover_plugins=False
    )
    async with opened as baton:
        app = create_app(settings, baton=baton, on_first_key=keys.append)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http="auto",
            backlog=4096,
            timeout_graceful_shutdown=2,
        )
        server = uvicorn.Server(config)
        server.capture_signals = contextlib.nullcontext  # type: ignore[method-assign]
        loop = asyncio.get_running_loop()

        def stop_at_eof() -> None:
            sys.stdin.read()  # the parent closes our stdin to stop us (or died)
            loop.call_soon_threadsafe(setattr, server, "should_exit", True)

        threading.Thread(target=stop_at_eof, daemon=True).start()
        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(sockets=[sock]))
            while not server.started:
                if server.should_exit:
                    raise SystemExit("uvicorn did not start")
                await asyncio.sleep(0.01)
            info = {
                "port": sock.getsockname()[1],
                "key": keys[0],
                "loop": type(loop).__module__.split(".")[0],
                "http": config.http_protocol_class.__name__,  # type: ignore[union-attr]
            }
            print(json.dumps(info), flush=True)


# --- load generator process (GET, POST) ---------------------------------------------------


@dataclass
class _Tally:
    latencies_ms: list[float] = field(default_factory=list[float])
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict[str, int])

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1


async def _one_client(
    conn: tuple[asyncio.StreamReader, asyncio.StreamWriter],
    port: int,
    request: bytes,
    expect: int,
    window: tuple[float, float],
    tally: _Tally,
) -> None:
    """One keep-alive connection, one request at a time, until the window's end."""
    begin, end = window
    perf = time.perf_counter
    reader, writer = conn
    try:
        while (t0 := perf()) < end:
            writer.write(request)
            try:
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                at = lower.index(b"content-length:") + 15
                await reader.readexactly(int(lower[at : lower.index(b"\r\n", at)]))
            except (OSError, ValueError, asyncio.IncompleteReadError) as exc:
                tally.error(type(exc).__name__)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            t1 = perf()
            if begin <= t1 <= end:
                status = int(head[9:12])
                if status == expect:
                    tally.latencies_ms.append((t1 - t0) * 1000)
                else:
                    tally.error(f"HTTP {status}")
    finally:
        writer.close()


async def _load_async(
    port: int, request: bytes, expect: int, n: int, warmup: float, seconds: float
) -> dict[str, Any]:
    tally = _Tally()
    # Connect first, say so, then start on the parent's word (a wall-clock start time).
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(n)]
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    start = float(line.split()[1]) + time.perf_counter() - time.time()
    window = (start + warmup, start + warmup + seconds)
    await asyncio.sleep(max(0.0, start - time.perf_counter()))
    async with asyncio.TaskGroup() as tg:
        for conn in conns:
            tg.create_task(_one_client(conn, port, request, expect, window, tally))
    return {"latencies_ms": tally.latencies_ms, "errors": tally.errors, "kinds": tally.error_kinds}


def _load(args: argparse.Namespace) -> None:
    _raise_nofile()
    request = bytes.fromhex(args.request_hex)
    result = _run_async(
        _load_async(args.port, request, args.expect, args.n, args.warmup, args.seconds)
    )
    Path(args.out).write_text(json.dumps(result))
    print("result", flush=True)


# --- SSE subscriber process ---------------------------------------------------------------


class _Subscriber(asyncio.Protocol):
    """One SSE stream: writes its request, then only timestamps what it reads."""

    def __init__(self, request: bytes, on_ready: Callable[[], None]) -> None:
        self.request = request
        self.on_ready = on_ready
        self.chunks: list[tuple[float, bytes]] = []
        self.ready = False
        self._seen = b""
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast("asyncio.WriteTransport", transport).write(self.request)  # uvloop's: no subclass

    def data_received(self, data: bytes) -> None:
        self.chunks.append((time.time(), data))
        if not self.ready:
            self._seen += data
            if b"event: execution_waiting" in self._seen:
                self.ready = True
                self._seen = b""
                self.on_ready()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


def _parse_stream(chunks: list[tuple[float, bytes]]) -> list[tuple[int, str, float, float]]:
    """(seq, kind, at, received) of each SSE message of a chunked HTTP response."""
    raw = b""
    pos = -1  # -1: headers not read yet
    events: list[tuple[int, str, float, float]] = []
    for received, data in chunks:
        raw += data
        if pos < 0:
            end = raw.find(b"\r\n\r\n")
            if end < 0:
                continue
            if not raw.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"stream refused: {raw[:200]!r}")
            pos = end + 4
        while (eol := raw.find(b"\r\n", pos)) >= 0:
            size = int(raw[pos:eol].split(b";")[0], 16)
            if size == 0 or len(raw) < eol + 2 + size + 2:
                break
            payload = raw[eol + 2 : eol + 2 + size].replace(b"\r\n", b"\n")
            pos = eol + 2 + size + 2
            for message in payload.split(b"\n\n"):
                event = _sse_event(message, received)
                if event is not None:
                    events.append(event)
        raw, pos = raw[pos:], 0
    return events


def _sse_event(message: bytes, received: float) -> tuple[int, str, float, float] | None:
    fields: dict[str, str] = {}
    for line in message.decode().split("\n"):
        name, _, value = line.partition(": ")
        if name in ("id", "event", "data"):
            fields[name] = value
    if "data" not in fields or "id" not in fields:
        return None  # a comment (heartbeat, ping)
    at = datetime.fromisoformat(json.loads(fields["data"])["at"]).timestamp()
    return int(fields["id"]), fields.get("event", ""), at, received


async def _sse_async(port: int, path: str, key: str, n: int, limit_s: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    request = _http_request("GET", path, key)
    request = request.replace(
        b"\r\n\r\n", b"\r\nAccept: text/event-stream\r\nConnection: close\r\n\r\n"
    )
    all_ready = asyncio.Event()
    ready = 0

    def on_ready() -> None:
        nonlocal ready
        ready += 1
        if ready == n:
            all_ready.set()

    subs = []
    for _ in range(n):
        sub = _Subscriber(request, on_ready)
        await loop.create_connection(lambda sub=sub: sub, "127.0.0.1", port)
        subs.append(sub)
    await asyncio.wait_for(all_ready.wait(), limit_s)
    print("ready", flush=True)
    go = float((await loop.run_in_executor(None, sys.stdin.readline)).split()[1])
    await asyncio.wait_for(asyncio.gather(*(s.done for s in subs)), limit_s)
    print("done", flush=True)  # before parsing, so that its CPU is not counted
    return _sse_results([s.chunks for s in subs], go)


def _sse_results(streams: list[list[tuple[float, bytes]]], go: float) -> dict[str, Any]:
    latencies: list[float] = []
    to_all: dict[int, float] = {}
    kinds: dict[int, str] = {}
    counts: list[int] = []
    bad = 0
    span = 0.0
    for chunks in streams:
        events = _parse_stream(chunks)
        seqs = [e[0] for e in events]
        if seqs != list(range(1, len(seqs) + 1)) or events[-1][1] != "execution_finished":
            bad += 1
        live = [e for e in events if e[2] >= go]
        counts.append(len(live))
        if live:
            span = max(span, live[-1][2] - live[0][2])
        for seq, kind, at, received in live:
            ms = (received - at) * 1000
            latencies.append(ms)
            to_all[seq] = max(to_all.get(seq, 0.0), ms)
            kinds[seq] = kind
    return {
        "latencies_ms": [round(x, 3) for x in latencies],
        "to_all_ms": {str(k): round(v, 3) for k, v in to_all.items()},
        "kinds": {str(k): v for k, v in kinds.items()},
        "counts": counts,
        "out_of_order": bad,
        "span_s": span,
    }


def _sse(args: argparse.Namespace) -> None:
    _raise_nofile()
    result = _run_async(_sse_async(args.port, args.path, args.key, args.n, 120.0))
    Path(args.out).write_text(json.dumps(result))
    print("result", flush=True)


# --- the parent: set up, run the scenarios, report -----------------------------------------


@dataclass
class _Server:
    proc: subprocess.Popen[str]
    port: int
    key: str
    loop: str
    http: str

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextlib.contextmanager
def _server(store: str, profile: str | None) -> Iterator[_Server]:
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        cmd = [sys.executable, __file__, "--serve", "--store", store, "--data-dir", tmp]
        if profile:
            cmd += ["--profile", profile]
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        assert proc.stdin is not None
        try:
            line = proc.stdout.readline()
            if not line:
                raise SystemExit("the server did not start (see its error above)")
            info = json.loads(line)
            yield _Server(proc, info["port"], info["key"], info["loop"], info["http"])
        finally:
            proc.stdin.close()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _children(cmds: list[list[str]], results: Path) -> list[subprocess.Popen[str]]:
    """Start the children; each writes its result to ``results/<index>.json``."""
    return [
        subprocess.Popen(
            [*c, "--out", str(results / f"{i}.json")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for i, c in enumerate(cmds)
    ]


def _result(proc: subprocess.Popen[str], results: Path, index: int, what: str) -> Any:
    """Wait for a child's result and read it."""
    _expect_line(proc, None, what)
    proc.wait()
    return json.loads((results / f"{index}.json").read_text())


def _expect_line(proc: subprocess.Popen[str], timeout: float | None, what: str) -> str:
    """The next line a child prints (None: wait as long as it takes; else at most `timeout`)."""
    assert proc.stdout is not None
    # select() only for the first line: after it, lines may wait in the reader's buffer.
    readable = timeout is None or select.select([proc.stdout], [], [], timeout)[0]
    line = proc.stdout.readline() if readable else ""
    if not line:
        proc.kill()
        raise SystemExit(f"a {what} process failed (see its error above)")
    return line


def _setup_finished_execution(client: Any) -> str:
    r = client.post("/api/orchestrate", json=ONE_STEP)
    r.raise_for_status()
    execution_id: str = r.json()["execution"]["id"]
    for _ in range(500):
        status = client.get(f"/api/orchestrate/{execution_id}").json()["status"]
        if status == "succeeded":
            return execution_id
        if status in ("failed", "cancelled"):
            raise SystemExit(f"the setup execution {status}")
        time.sleep(0.01)
    raise SystemExit("the setup execution did not finish")


def _load_scenario(
    server: _Server, args: argparse.Namespace, name: str, request: bytes, expect: int
) -> dict[str, Any]:
    split = [
        args.connections // args.generators + (i < args.connections % args.generators)
        for i in range(args.generators)
    ]
    base = [sys.executable, __file__, "--load", "--port", str(server.port)]
    base += ["--request-hex", request.hex(), "--expect", str(expect)]
    base += ["--warmup", str(args.warmup), "--seconds", str(args.seconds)]
    gens = _children([[*base, "--n", str(n)] for n in split if n], args.results)
    for g in gens:
        _expect_line(g, 30, "load generator")
    start = time.time() + 0.2
    for g in gens:
        assert g.stdin is not None
        g.stdin.write(f"go {start}\n")
        g.stdin.flush()
    pids = [server.proc.pid] + [g.pid for g in gens]
    time.sleep(max(0.0, start + args.warmup - time.time()))
    before = _sample(pids)
    time.sleep(max(0.0, start + args.warmup + args.seconds - time.time()))
    after = _sample(pids)
    latencies: list[float] = []
    errors = 0
    kinds: dict[str, int] = {}
    for i, g in enumerate(gens):
        out = _result(g, args.results, i, "load generator")
        latencies += out["latencies_ms"]
        errors += out["errors"]
        for k, v in out["kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
    cpu, rest = _cpu_pct(before, after, args.seconds)
    return {
        "scenario": name,
        "requests_per_s": round(len(latencies) / args.seconds, 1),
        **_summary(latencies),
        "requests": len(latencies),
        "errors": errors,
        "error_kinds": kinds,
        "server_cpu_pct": cpu[0],
        "load_cpu_pct": cpu[1:],
        "rest_cpu_pct": rest,
    }


def _sse_plan(steps: int, step_ms: float) -> dict[str, Any]:
    gate = {
        "id": "gate",
        "agent": "text.transform",
        "inputs": {"text": "x", "operation": "upper"},
        "policy": {"critical": True},
    }
    chain = [
        {
            "id": f"s{i}",
            "agent": "sleep",
            "inputs": {"seconds": step_ms / 1000},
            "depends_on": ["gate" if i == 0 else f"s{i - 1}"],
        }
        for i in range(steps)
    ]
    return {"plan": {"name": "fan-out", "steps": [gate, *chain]}}


def _waiting_execution(client: Any, steps: int, step_ms: float) -> tuple[str, str]:
    """An execution waiting for the approval of its first step; (its id, the approval's)."""
    r = client.post("/api/orchestrate", json=_sse_plan(steps, step_ms))
    r.raise_for_status()
    execution_id: str = r.json()["execution"]["id"]
    for _ in range(500):
        if client.get(f"/api/orchestrate/{execution_id}").json()["status"] == "waiting":
            break
        time.sleep(0.01)
    else:
        raise SystemExit("the fan-out execution did not wait for its approval")
    approvals = [
        a for a in client.get("/api/approvals").json() if a["execution_id"] == execution_id
    ]
    return execution_id, approvals[0]["id"]


def _sse_scenario(server: _Server, args: argparse.Namespace, client: Any) -> dict[str, Any]:
    execution_id, approval_id = _waiting_execution(client, args.steps, args.step_ms)
    procs = min(args.sse_procs, args.subscribers)
    split = [args.subscribers // procs + (i < args.subscribers % procs) for i in range(procs)]
    base = [sys.executable, __file__, "--sse", "--port", str(server.port), "--key", server.key]
    base += ["--path", f"/api/orchestrate/{execution_id}/stream"]
    clients = _children([[*base, "--n", str(n)] for n in split], args.results)
    connect_began = time.perf_counter()
    for c in clients:
        _expect_line(c, 120, "SSE subscriber")
    connect_s = time.perf_counter() - connect_began
    go = time.time()
    for c in clients:
        assert c.stdin is not None
        c.stdin.write(f"go {go}\n")
        c.stdin.flush()
    pids = [server.proc.pid] + [c.pid for c in clients]
    before = _sample(pids)
    client.post(f"/api/approvals/{approval_id}/approve", json={}).raise_for_status()
    for c in clients:
        _expect_line(c, None, "SSE subscriber")  # "done": every stream ended
    after = _sample(pids)
    elapsed = time.time() - go
    results = [_result(c, args.results, i, "SSE subscriber") for i, c in enumerate(clients)]
    return _sse_report(results, before, after, elapsed, connect_s)


def _sse_report(
    results: list[dict[str, Any]],
    before: list[float],
    after: list[float],
    elapsed: float,
    connect_s: float,
) -> dict[str, Any]:
    latencies = [x for r in results for x in r["latencies_ms"]]
    to_all: dict[str, float] = {}
    for r in results:
        for k, v in r["to_all_ms"].items():
            to_all[k] = max(to_all.get(k, 0.0), v)
    counts = [n for r in results for n in r["counts"]]
    span = max(r["span_s"] for r in results)
    events = max(counts) if counts else 0
    cpu, rest = _cpu_pct(before, after, elapsed)
    return {
        "scenario": "sse",
        "subscribers": len(counts),
        "events_per_subscriber": events,
        "all_complete_in_order": min(counts) == events
        and not any(r["out_of_order"] for r in results),
        "events_per_s": round(events / span, 1) if span else None,
        "messages_per_s": round(sum(counts) / span) if span else None,
        "connect_s": round(connect_s, 2),
        **_summary(latencies),
        "to_all": _summary(list(to_all.values())),
        "slowest_events": [
            [int(seq), results[0]["kinds"].get(seq, "?"), ms]
            for seq, ms in sorted(to_all.items(), key=lambda kv: -kv[1])[:8]
        ],
        "server_cpu_pct": cpu[0],
        "client_cpu_pct": cpu[1:],
        "rest_cpu_pct": rest,
        "window_s": round(elapsed, 2),
    }


def _fmt_pct(values: list[int]) -> str:
    return "+".join(f"{v}%" for v in values)


def _print_report(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(
        f"machine: {m['arch']}, {m['cores']} cores ({m['cpu']}), Python {m['python']}, "
        f"uvicorn {m['uvicorn']} ({m['loop']} loop, {m['http']})"
    )
    a = report["setup"]
    print(
        f"server: one uvicorn process, store {a['store']}; load: {a['generators']} generator "
        f"process(es), {a['connections']} keep-alive connections, closed loop, "
        f"{a['warmup']} s warm-up + {a['seconds']} s measured\n"
    )
    rows = [r for r in report["results"] if r["scenario"] != "sse"]
    if rows:
        head = f"{'scenario':34} {'req/s':>7} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        print(head + f"{'max ms':>7} {'errors':>6} {'server CPU':>10} {'load CPU':>9} {'rest':>5}")
    for r in rows:
        print(
            f"{r['label']:34} {r['requests_per_s']:>7.0f} {r['p50_ms']:>7.1f} "
            f"{r['p90_ms']:>7.1f} {r['p99_ms']:>7.1f} {r['max_ms']:>7.1f} {r['errors']:>6} "
            f"{r['server_cpu_pct']:>9}% {_fmt_pct(r['load_cpu_pct']):>9} "
            f"{r['rest_cpu_pct']:>4}%"
        )
        if r["errors"]:
            print(f"  errors: {r['error_kinds']}")
        if max(r["load_cpu_pct"]) >= SATURATED_PCT:
            print("  note: a load generator was CPU-bound; the server may do better than this")
        elif r["server_cpu_pct"] >= SATURATED_PCT:
            print(
                "  note: the server process was CPU-bound (one core); in a closed loop the "
                "mean latency is connections / (req/s)"
            )
    for r in report["results"]:
        if r["scenario"] == "sse":
            _print_sse(r)
    print()
    print(
        "CPU: % of one core over the measured window; rest: the rest of the machine's busy "
        "time (other programs, kernel network work), a sign of a disturbed run when high"
    )
    for goal in report["goals"]:
        print(f"goal: {goal['goal']}: {'met' if goal['met'] else 'NOT met'} ({goal['figure']})")


def _print_sse(r: dict[str, Any]) -> None:
    ok = "yes" if r["all_complete_in_order"] else "NO"
    print(
        f"\nSSE fan-out: {r['subscribers']} subscribers (connected in {r['connect_s']} s), "
        f"{r['events_per_subscriber']} live events each, all complete and in order: {ok}"
    )
    print(
        f"  event rate {r['events_per_s']}/s, {r['messages_per_s']} SSE messages/s delivered; "
        f"CPU: server {r['server_cpu_pct']}%, subscribers {_fmt_pct(r['client_cpu_pct'])}, "
        f"rest of the machine {r['rest_cpu_pct']}%"
    )
    print(
        f"  event -> subscriber (every pair): p50 {r['p50_ms']} ms, p90 {r['p90_ms']} ms, "
        f"p99 {r['p99_ms']} ms, max {r['max_ms']} ms"
    )
    t = r["to_all"]
    print(
        f"  event -> last of the subscribers: p50 {t['p50_ms']} ms, p90 {t['p90_ms']} ms, "
        f"p99 {t['p99_ms']} ms, max {t['max_ms']} ms"
    )
    slowest = ", ".join(f"#{seq} {kind} {ms:.0f} ms" for seq, kind, ms in r["slowest_events"][:4])
    print(f"  slowest events (to the last subscriber): {slowest}")
    if max(r["client_cpu_pct"]) >= SATURATED_PCT:
        print("  note: a subscriber process was CPU-bound; its reads lag, latencies include it")
    if r["server_cpu_pct"] >= SATURATED_PCT:
        print("  note: the server process was CPU-bound (one core) over the run")


def _goals(results: list[dict[str, Any]], connections: int, subscribers: int) -> list[Any]:
    goals = []
    for r in results:
        if r["scenario"] == "get":
            goals.append(
                {
                    "goal": f"GET p99 < {GOAL_GET_P99_MS:.0f} ms at 50 clients",
                    "met": r["p99_ms"] < GOAL_GET_P99_MS and connections >= 50,
                    "figure": f"p99 {r['p99_ms']} ms at {connections}",
                }
            )
        if r["scenario"] == "sse":
            goals.append(
                {
                    "goal": f"SSE fan-out p99 < {GOAL_SSE_P99_MS:.0f} ms to 500 subscribers",
                    "met": r["p99_ms"] < GOAL_SSE_P99_MS
                    and subscribers >= 500
                    and r["all_complete_in_order"],
                    "figure": f"p99 {r['p99_ms']} ms to {r['subscribers']}",
                }
            )
    return goals


def _main(args: argparse.Namespace) -> None:
    import httpx
    import uvicorn

    scenarios = args.scenarios.split(",")
    results = []
    with _server(args.store, args.profile) as server:
        headers = {"Authorization": f"Bearer {server.key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            if "get" in scenarios:
                execution_id = _setup_finished_execution(client)
                path = f"/api/orchestrate/{execution_id}"
                request = _http_request("GET", path, server.key)
                row = _load_scenario(server, args, "get", request, 200)
                results.append({**row, "label": "GET /api/orchestrate/{id}"})
            if "post" in scenarios:
                body = json.dumps(DRY_RUN_BODY).encode()
                r = client.post("/api/orchestrate", json=DRY_RUN_BODY)
                if r.status_code != 200:
                    raise SystemExit(f"the dry run failed: {r.status_code} {r.text}")
                request = _http_request("POST", "/api/orchestrate", server.key, body)
                row = _load_scenario(server, args, "post", request, 200)
                results.append({**row, "label": "POST /api/orchestrate (dry run)"})
            if "sse" in scenarios:
                results.append(_sse_scenario(server, args, client))
    report = {
        "machine": {
            "arch": platform.machine(),
            "cores": os.cpu_count(),
            "cpu": _cpu_model(),
            "python": platform.python_version(),
            "uvicorn": uvicorn.__version__,
            "loop": server.loop,
            "http": server.http,
        },
        "setup": {
            "store": args.store,
            "generators": args.generators,
            "connections": args.connections,
            "warmup": args.warmup,
            "seconds": args.seconds,
            "subscribers": args.subscribers,
            "sse_procs": args.sse_procs,
            "steps": args.steps,
            "step_ms": args.step_ms,
        },
        "results": results,
        "goals": _goals(results, args.connections, args.subscribers),
    }
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_report(report)
    if args.profile:
        print(f"\nserver profile ({args.profile}), top 30 by own time:", file=sys.stderr)
        pstats.Stats(args.profile, stream=sys.stderr).sort_stats("tottime").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenarios", default="get,post,sse", help=f"any of {','.join(SCENARIOS)}")
    parser.add_argument("--store", choices=("sqlite", "memory"), default="sqlite")
    parser.add_argument("--connections", type=int, default=50, help="concurrent clients")
    parser.add_argument("--generators", type=int, default=1, help="load generator processes")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds before measuring")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--sse-procs", type=int, default=2, help="subscriber processes")
    parser.add_argument("--steps", type=int, default=100, help="steps of the streamed run")
    parser.add_argument("--step-ms", type=float, default=50.0, help="sleep of each step")
    parser.add_argument("--profile", help="cProfile the server into this file")
    parser.add_argument("--json", action="store_true")
    # Child processes (the parent starts them).
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    parser.add_argument("--load", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--sse", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--key", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--request-hex", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        _serve(args.store, args.data_dir, args.profile)
    elif args.load:
        _load(args)
    elif args.sse:
        _sse(args)
    else:
        if unknown := sorted(set(args.scenarios.split(",")) - set(SCENARIOS)):
            parser.error(f"unknown scenario(s) {', '.join(unknown)}")
        with tempfile.TemporaryDirectory(prefix="bench-api-results-") as results:
            args.results = Path(results)
            _main(args)


if __name__ == "__main__":
    main()
