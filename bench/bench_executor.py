"""Executor benchmark: W1-W4 through the real executor, with the SQLite store and in memory.

Each workload runs in a fresh subprocess so that peak RSS is its own. Usage:

    .venv/bin/python bench/bench_executor.py            # all workloads, both stores
    .venv/bin/python bench/bench_executor.py --json     # machine-readable
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).parent))

from baton.agents import AgentRegistry
from baton.core.executor import Executor, ExecutorOptions
from baton.core.graph import Dag
from baton.core.orchestrator import Orchestrator
from baton.core.run_state import ConcurrencyLimits
from baton.store import ExecutionStore, MemoryExecutionStore
from workloads import BENCH_AGENTS, WORKLOADS


async def _measure(name: str, backend: str, repeat: int) -> dict[str, object]:
    plan, durations = WORKLOADS[name]()
    registry = AgentRegistry()
    registry.register_all(BENCH_AGENTS, source="bench")
    _, critical = Dag.of(plan).critical_path(durations.__getitem__)
    best = float("inf")
    with tempfile.TemporaryDirectory() as tmp:
        store: ExecutionStore
        if backend == "sqlite":
            from baton.store.sql.database import open_database, sqlite_url
            from baton.store.sql.execution_store import SqlExecutionStore
            from baton.store.sql.schema import create_schema

            db = open_database(sqlite_url(Path(tmp) / "bench.db"))
            await create_schema(db)
            store = SqlExecutionStore(db)
        else:
            store = MemoryExecutionStore()
        # The engine's default limits (32 steps at once), as a user gets them.
        executor = Executor(registry, store, options=ExecutorOptions(limits=ConcurrencyLimits()))
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
        await store.close()
    n = len(plan.steps)
    out: dict[str, object] = {
        "workload": name,
        "store": backend,
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


def _child(name: str, backend: str, repeat: int) -> None:
    print(json.dumps(anyio.run(_measure, name, backend, repeat)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--one", nargs=2, metavar=("WORKLOAD", "STORE"))
    parser.add_argument("--workloads", default="W1,W2,W3,W4")
    parser.add_argument("--stores", default="sqlite,memory")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if args.one:
        _child(args.one[0], args.one[1], args.repeat)
        return
    rows = []
    for backend in args.stores.split(","):
        for name in args.workloads.split(","):
            proc = subprocess.run(
                [sys.executable, __file__, "--one", name, backend, "--repeat", str(args.repeat)],
                check=True,
                capture_output=True,
                text=True,
            )
            rows.append(json.loads(proc.stdout))
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print(f"best of {args.repeat} runs per workload; every transition persisted to the store\n")
    header = f"{'workload':8} {'store':7} {'steps':>6} {'makespan s':>11} {'critical s':>11} "
    header += f"{'ratio':>7} {'ms/step':>8} {'peak RSS MB':>12}"
    print(header)
    for r in rows:
        ratio = r.get("makespan_over_critical")
        per = r.get("ms_per_step")
        print(
            f"{r['workload']:8} {r['store']:7} {r['steps']:>6} {r['makespan_s']:>11.4f} "
            f"{r['critical_path_s']:>11.4f} {ratio if ratio is not None else '-':>7} "
            f"{per if per is not None else '-':>8} {r['peak_rss_mb']:>12}"
        )


if __name__ == "__main__":
    main()
