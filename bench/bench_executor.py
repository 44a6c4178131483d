"""Executor benchmark: W1-W4 through the real executor, on SQLite, in memory, or PostgreSQL.

Each workload runs in a fresh subprocess so that peak RSS is its own. With ``postgres`` in
``--stores``, a local server is started once for the run (installed first if missing, see
``tests/support/postgres.py``: 127.0.0.1, fsync and synchronous_commit on), each workload gets
an empty database of its own, and the server is stopped and removed at the end. Usage:

    .venv/bin/python bench/bench_executor.py            # all workloads, SQLite and memory
    .venv/bin/python bench/bench_executor.py --stores sqlite,memory,postgres
    .venv/bin/python bench/bench_executor.py --json     # machine-readable
    .venv/bin/python bench/bench_executor.py --workloads W2,W4 --observe both   # telemetry cost
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # for support.postgres

from baton.agents import AgentRegistry
from baton.core.executor import Executor, ExecutorOptions
from baton.core.graph import Dag
from baton.core.interceptors import RunInterceptor
from baton.core.orchestrator import Orchestrator
from baton.core.run_state import ConcurrencyLimits
from baton.observability.logs import LogAggregator
from baton.observability.metrics import Metrics
from baton.observability.tracing import setup_tracing
from baton.settings import Settings
from baton.store import ExecutionStore, MemoryExecutionStore
from baton.store.logs import LogStore, MemoryLogStore
from baton.store.traces import MemoryTraceStore, TraceStore
from support.postgres import (  # pyright: ignore[reportMissingImports]  # on sys.path above
    PostgresServer,
    fresh_database,
    running_postgres,
)
from workloads import BENCH_AGENTS, WORKLOADS

STORES = ("sqlite", "memory", "postgres")


@contextlib.asynccontextmanager
async def _database_url(backend: str, pg_server: str | None) -> AsyncIterator[str]:
    """An empty database for one workload: a SQLite file, or a new one on the PG server."""
    if backend == "sqlite":
        from baton.store.sql.database import sqlite_url

        with tempfile.TemporaryDirectory() as tmp:
            yield sqlite_url(Path(tmp) / "bench.db")
        return
    if pg_server is None:
        raise SystemExit("the postgres store needs --pg-server (the parent process passes it)")
    fields = json.loads(pg_server)
    server = PostgresServer(
        **{**fields, "root": Path(fields["root"]), "bindir": Path(fields["bindir"])}
    )
    async with fresh_database(server) as url:
        yield url


@contextlib.asynccontextmanager
async def _open_store(
    backend: str, pg_server: str | None
) -> AsyncIterator[tuple[ExecutionStore, TraceStore, LogStore]]:
    if backend == "memory":
        yield MemoryExecutionStore(), MemoryTraceStore(), MemoryLogStore()
        return
    from baton.store.sql.database import open_database
    from baton.store.sql.execution_store import SqlExecutionStore
    from baton.store.sql.logs import SqlLogStore
    from baton.store.sql.schema import create_schema
    from baton.store.sql.traces import SqlTraceStore

    async with _database_url(backend, pg_server) as url:
        db = open_database(url)
        store = SqlExecutionStore(db)
        try:
            await create_schema(db)
            yield store, SqlTraceStore(db), SqlLogStore(db)
        finally:
            await store.close()


@contextlib.asynccontextmanager
async def _observed(
    store: ExecutionStore, traces: TraceStore, logs: LogStore, backend: str
) -> AsyncIterator[tuple[ExecutionStore, tuple[RunInterceptor, ...]]]:
    """The store and interceptors of `baton serve` with every kind of telemetry on: spans
    (kept in the database, as by default), Prometheus metrics and the log aggregator."""
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    tracing = setup_tracing(settings, traces)
    metrics = Metrics()
    try:
        async with LogAggregator.from_settings(logs, settings) as aggregator:
            if tracing.interceptor is not None:  # as `baton.app` wires them
                tracing.interceptor.carry_log_context(aggregator.interceptor)
            interceptors = [tracing.interceptor, aggregator.interceptor, metrics.interceptor]
            system = None if backend == "memory" else backend
            yield (
                tracing.wrap_store(store, system=system),
                tuple(i for i in interceptors if i is not None),
            )
    finally:
        await tracing.shutdown()


async def _measure(
    name: str, backend: str, repeat: int, pg_server: str | None = None, observe: bool = False
) -> dict[str, object]:
    plan, durations = WORKLOADS[name]()
    registry = AgentRegistry()
    registry.register_all(BENCH_AGENTS, source="bench")
    _, critical = Dag.of(plan).critical_path(durations.__getitem__)
    best = float("inf")
    async with contextlib.AsyncExitStack() as stack:
        store, traces, logs = await stack.enter_async_context(_open_store(backend, pg_server))
        interceptors: tuple[RunInterceptor, ...] = ()
        if observe:
            store, interceptors = await stack.enter_async_context(
                _observed(store, traces, logs, backend)
            )
        # The engine's default limits (32 steps at once), as a user gets them.
        options = ExecutorOptions(limits=ConcurrencyLimits(), interceptors=interceptors)
        executor = Executor(registry, store, options=options)
        orchestrator = Orchestrator(registry, store, executor)
        for _ in range(repeat):
            record = await orchestrator.create(plan)
            start = time.perf_counter()
            result = await executor.execute(record.id, plan)
            best = min(best, time.perf_counter() - start)
            assert result.ok, result.errors
            events = await store.events(record.id)
            # Every transition was persisted: started + succeeded per step, start + finish.
            assert len(events) == 2 * len(plan.steps) + 2, len(events)
    n = len(plan.steps)
    out: dict[str, object] = {
        "workload": name,
        "store": backend,
        "observability": observe,
        "steps": n,
        "makespan_s": round(best, 4),
        "critical_path_s": round(critical, 4),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    if critical > 0:
        out["makespan_over_critical"] = round(best / critical, 4)
    else:
        out["ms_per_step"] = round(best / n * 1000, 4)
    return out


def _child(name: str, backend: str, repeat: int, pg_server: str | None, observe: bool) -> None:
    print(json.dumps(anyio.run(_measure, name, backend, repeat, pg_server, observe)))


@contextlib.contextmanager
def _postgres_if(needed: bool) -> Iterator[str | None]:
    """The local PostgreSQL server as JSON for the children, when a store needs it."""
    if not needed:
        yield None
        return
    with running_postgres() as server:
        yield json.dumps(dataclasses.asdict(server), default=str)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "STORE"))
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--stores", default="sqlite,memory", help=f"any of {','.join(STORES)}")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--observe",
        choices=("off", "on", "both"),
        default="off",
        help="telemetry (spans kept in the store, metrics, logs): off, on, or both side by side",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=None,
        help="processes per row, the modes alternated, the best kept "
        "(default 3 with --observe both, so drift on a shared machine hits both alike; else 1)",
    )
    parser.add_argument("--pg-server", help=argparse.SUPPRESS)  # parent -> child
    args = parser.parse_args()
    rounds = args.rounds if args.rounds is not None else (3 if args.observe == "both" else 1)
    if rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.one:
        _child(args.one[0], args.one[1], args.repeat, args.pg_server, args.observe == "on")
        return
    modes = {"off": ["off"], "on": ["on"], "both": ["off", "on"]}[args.observe]
    stores = args.stores.split(",")
    if unknown := sorted(set(stores) - set(STORES)):
        parser.error(f"unknown store(s) {', '.join(unknown)}; choose from {', '.join(STORES)}")
    rows = []
    with _postgres_if("postgres" in stores) as pg_server:
        for backend in stores:
            for name in args.workloads.split(","):
                best: dict[str, dict[str, Any]] = {}
                for _ in range(rounds):
                    for mode in modes:
                        row = _run_child(name, backend, mode, args.repeat, pg_server)
                        if mode not in best or row["makespan_s"] < best[mode]["makespan_s"]:
                            best[mode] = row
                rows += [best[mode] for mode in modes]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    runs = f"best of {args.repeat} runs" + (f" x {rounds} processes" if rounds > 1 else "")
    print(f"{runs} per workload; every transition persisted to the store\n")
    header = f"{'workload':8} {'store':8} {'telemetry':>9} {'steps':>6} "
    header += f"{'makespan s':>11} {'critical s':>11} {'ratio':>7} {'ms/step':>8} "
    header += f"{'peak RSS MB':>12}"
    print(header)
    for r in rows:
        ratio = r.get("makespan_over_critical")
        per = r.get("ms_per_step")
        print(
            f"{r['workload']:8} {r['store']:8} {'on' if r['observability'] else 'off':>9} "
            f"{r['steps']:>6} {r['makespan_s']:>11.4f} "
            f"{r['critical_path_s']:>11.4f} {ratio if ratio is not None else '-':>7} "
            f"{per if per is not None else '-':>8} {r['peak_rss_mb']:>12}"
        )
    if args.observe == "both":
        _print_telemetry_cost(rows)


def _run_child(
    name: str, backend: str, mode: str, repeat: int, pg_server: str | None
) -> dict[str, Any]:
    """One workload on one store in a fresh process (its own peak RSS)."""
    cmd = [sys.executable, __file__, "--one", name, backend]
    cmd += ["--repeat", str(repeat), "--observe", mode]
    if backend == "postgres" and pg_server is not None:
        cmd += ["--pg-server", pg_server]
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{name} on {backend} failed:\n{proc.stderr}")
    row: dict[str, Any] = json.loads(proc.stdout)
    return row


def _print_telemetry_cost(rows: list[dict[str, Any]]) -> None:
    """Per workload and store: the per-step time without and with telemetry, and the growth."""
    print("\ncost of telemetry (the issue's goal: per-step time grows by 30% at most)")
    print(f"{'workload':8} {'store':8} {'off ms/step':>12} {'on ms/step':>11} {'growth':>7}")
    by_key = {(r["workload"], r["store"], r["observability"]): r for r in rows}
    for (name, backend, observed), off in by_key.items():
        on = by_key.get((name, backend, True))
        if observed or on is None or "ms_per_step" not in off:
            continue
        before, after = off["ms_per_step"], on["ms_per_step"]
        print(f"{name:8} {backend:8} {before:>12.4f} {after:>11.4f} {(after / before - 1):>+7.0%}")


if __name__ == "__main__":
    main()
