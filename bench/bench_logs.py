"""Log aggregator benchmark: search over 1,000,000 stored records, and the cost per step.

1. Stores `--records` realistic log records (default 1,000,000) through `SqlLogStore.add`,
   the aggregator's own write path (batches of 5,000, FTS index kept by its triggers), and
   times it.
2. Runs each kind of search `--repeat` times (different words of the kind each time), as
   the API and CLI do (newest first, a page of 100), and prints p50 / p99 / max per kind,
   the database size, and whether every kind stays under the goal (300 ms).
3. Measures the executor's per-step overhead of the logging interceptor on W2 and W4 (the
   in-memory execution store, 1,000 no-op steps), with and without it, best of `--w-repeat`.

The records: 10,000 executions of 100 records each (20 running at once, so their records
interleave), three workspaces (90 % in ``default``), levels 20 % debug / 70 % info / 7 %
warning / 3 % error, messages from a dozen engine and agent templates with words drawn from
a Zipf-like vocabulary of 20,000 words; "quasar" is in 1 record of 10,000.

    .venv/bin/python bench/bench_logs.py                    # SQLite, 1,000,000 records
    .venv/bin/python bench/bench_logs.py --records 100000   # quicker
    .venv/bin/python bench/bench_logs.py --backends sqlite,postgres   # PostgreSQL too
    .venv/bin/python bench/bench_logs.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))  # for support.postgres

from baton.agents import AgentRegistry
from baton.core.executor import Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.observability.logs import LogAggregator
from baton.store import MemoryExecutionStore
from baton.store.logs import LogRecord, LogStore, MemoryLogStore
from baton.store.sql.database import Database, open_database, sqlite_url
from baton.store.sql.logs import SqlLogStore
from baton.store.sql.schema import create_schema
from workloads import BENCH_AGENTS, WORKLOADS

GOAL_MS = 300.0
BATCH = 5000
T0 = datetime(2026, 1, 1, tzinfo=UTC)

_HOSTS = ["api.example.com", "db.internal", "cache-1", "calendar.example.org", "s3.eu-west-1"]
_TEMPLATES_INFO = [
    "execution started ({n} steps)",
    "execution succeeded",
    "step {step} skipped: dependency {dep!r} did not succeed",
    "GET https://{host}/{w1}/{w2} -> 200 in {ms} ms",
    "read {n} rows from {w1}.csv in {ms} ms",
    "summarized {n} sentences about {w1} {w2} {w3}",
    "cache miss for key {hex}; fetching {w1}",
    "sent message to channel {w1}: {w2} {w3} {w4}",
    "found {n} free slots for {w1} {w2}",
]
_TEMPLATES_DEBUG = [
    "step {step} attempt 1 started ({agent})",
    "step {step} succeeded in 0.{ms} s (attempt 1)",
    "resolved inputs of {step}: {w1}={w2}",
]
_TEMPLATES_WARNING = [
    "step {step} attempt {n} failed, retrying in 0.{ms} s: connection refused by {host}",
    "rate limit for http:{host}: waiting {ms} ms",
    "slow response from {host}: {ms} ms for {w1}",
]
_TEMPLATES_ERROR = [
    "step {step} failed after 3 attempt(s): AgentError: {w1} {w2} timed out",
    "execution failed: step {step!r} failed: connection reset by {host}",
    "could not parse {w1}.json: unexpected {w2} at line {n}",
]
_AGENTS = ["http.get", "files.read", "text.summarize", "data.filter", "calendar.find_slots"]


def _vocabulary(rng: random.Random, size: int = 20_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(3, 10))))
    return sorted(words)


def generate(n: int, seed: int = 7) -> Iterator[LogRecord]:
    """`n` records, oldest first (see the module docstring for their make-up)."""
    rng = random.Random(seed)
    vocab = _vocabulary(rng)
    weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf-like: a few words everywhere
    cumulative = list(_accumulate(weights))
    per_execution, running = 100, 20
    executions = max(1, n // per_execution)
    ids = [f"ex_{i:026d}" for i in range(executions)]
    workspaces = ["default"] * 18 + ["ws_team", "ws_lab"]

    def word() -> str:
        return rng.choices(vocab, cum_weights=cumulative)[0]

    for i in range(n):
        # 20 executions at a time: record i belongs to one of the current window's.
        window = (i // (per_execution * running)) * running
        ex_index = min(executions - 1, window + rng.randrange(running))
        roll = rng.random()
        if roll < 0.2:
            level, template = 10, rng.choice(_TEMPLATES_DEBUG)
        elif roll < 0.9:
            level, template = 20, rng.choice(_TEMPLATES_INFO)
        elif roll < 0.97:
            level, template = 30, rng.choice(_TEMPLATES_WARNING)
        else:
            level, template = 40, rng.choice(_TEMPLATES_ERROR)
        message = template.format(
            n=rng.randint(1, 500),
            step=f"s{rng.randint(0, 99)}",
            dep=f"s{rng.randint(0, 99)}",
            host=rng.choice(_HOSTS),
            ms=rng.randint(1, 999),
            hex=f"{rng.getrandbits(48):012x}",
            agent=rng.choice(_AGENTS),
            w1=word(),
            w2=word(),
            w3=word(),
            w4=word(),
        )
        if i % 10_000 == 5_000:
            message += " quasar detected"
        yield LogRecord(
            at=T0 + timedelta(milliseconds=i * 50),
            level=level,
            logger="baton.run" if rng.random() < 0.5 else f"baton.agent.{rng.choice(_AGENTS)}",
            message=message,
            workspace_id=workspaces[ex_index % len(workspaces)],
            execution_id=ids[ex_index],
            step_id=f"s{rng.randint(0, 99)}",
        )


def _accumulate(values: list[float]) -> Iterator[float]:
    total = 0.0
    for v in values:
        total += v
        yield total


async def fill(store: LogStore, n: int) -> float:
    start = time.perf_counter()
    batch: list[LogRecord] = []
    for record in generate(n):
        batch.append(record)
        if len(batch) == BATCH:
            await store.add(batch)
            batch = []
    if batch:
        await store.add(batch)
    return time.perf_counter() - start


def searches(n: int) -> dict[str, list[Callable[[LogStore], Awaitable[list[LogRecord]]]]]:
    """Each kind of search, with several variants (different words / executions)."""
    executions = max(1, n // 100)
    rng = random.Random(11)
    some_ex = [f"ex_{rng.randrange(executions):026d}" for _ in range(10)]

    def q(query: str, **kw: Any) -> Callable[[LogStore], Awaitable[list[LogRecord]]]:
        kw.setdefault("workspace_id", "default")
        return lambda store: store.search(query, limit=100, **kw)

    return {
        "rare word": [q("quasar")],
        "common word": [q(w) for w in ("step", "attempt", "in", "execution")],
        "word + execution": [q("step", execution_id=e) for e in some_ex],
        "word + level>=error": [q(w, min_level=40) for w in ("step", "connection", "failed")],
        "prefix": [q(w) for w in ("conn*", "retr*", "summ*", "ca*")],
        "phrase": [q(p) for p in ('"connection refused"', '"cache miss"', "http.get")],
        "2 words": [q("connection refused"), q("slow response"), q("rate limit")],
        "no query, level>=warning": [q("", min_level=30)],
        "no query, level>=error": [q("", min_level=40), q("", min_level=40, workspace_id="ws_lab")],
        "no query, level>=critical (none)": [
            q("", min_level=50),
            q("", min_level=50, workspace_id="ws_lab"),
        ],
        "since 1h + word": [q("step", since=T0 + timedelta(milliseconds=n * 50 - 3_600_000))],
        "other workspace": [q("step", workspace_id="ws_lab"), q("quasar", workspace_id="ws_lab")],
        "no match": [q("zzzzzzzzzz"), q('"quasar refused"')],
    }


async def time_searches(store: LogStore, n: int, repeat: int) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {}
    for kind, variants in searches(n).items():
        for variant in variants:  # warm up each once (page cache), as a running server is
            await variant(store)
        times: list[float] = []
        hits = 0
        for i in range(repeat):
            variant = variants[i % len(variants)]
            start = time.perf_counter()
            found = await variant(store)
            times.append((time.perf_counter() - start) * 1000)
            hits = max(hits, len(found))
        times.sort()
        results[kind] = {
            "p50_ms": round(statistics.median(times), 2),
            "p99_ms": round(times[min(len(times) - 1, int(len(times) * 0.99))], 2),
            "max_ms": round(times[-1], 2),
            "max_hits": hits,
        }
    return results


class _Nop:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


class NoOpInterceptor:
    """Does nothing: what having any interceptor costs in the executor itself."""

    def execution(self, execution_id: str, workspace_id: str) -> _Nop:
        return _Nop()

    def step_attempt(self, execution_id: str, step_id: str, agent: str, attempt: int) -> _Nop:
        return _Nop()

    def events(self, events: object) -> None:
        pass


VARIANTS = ("without", "no-op interceptor", "logging interceptor")


async def step_overhead(repeat: int) -> dict[str, dict[str, float]]:
    """ms per step of W2 and W4 (memory store): without interceptors, with one that does
    nothing, and with the logging interceptor; rounds interleaved, best of `repeat`."""
    registry = AgentRegistry()
    registry.register_all(BENCH_AGENTS, source="bench")
    out: dict[str, dict[str, float]] = {}
    for name in ("W2", "W4"):
        plan, _ = WORKLOADS[name]()
        best = dict.fromkeys(VARIANTS, float("inf"))
        for _ in range(repeat):
            for label in VARIANTS:
                store = MemoryExecutionStore()
                aggregator = LogAggregator(MemoryLogStore())
                interceptors: tuple[Any, ...] = {
                    "without": (),
                    "no-op interceptor": (NoOpInterceptor(),),
                    "logging interceptor": (aggregator.interceptor,),
                }[label]
                executor = Executor(
                    registry, store, options=ExecutorOptions(interceptors=interceptors)
                )
                record = await Orchestrator(registry, store, executor).create(plan)
                async with aggregator:
                    start = time.perf_counter()
                    result = await executor.execute(record.id, plan)
                    best[label] = min(best[label], time.perf_counter() - start)
                assert result.ok
        row = {f"{k} ms/step": round(v / len(plan.steps) * 1000, 4) for k, v in best.items()}
        base = best["without"]
        row["logging overhead %"] = round((best["logging interceptor"] / base - 1) * 100, 1)
        row["of which any interceptor %"] = round((best["no-op interceptor"] / base - 1) * 100, 1)
        out[name] = row
    return out


async def run_backend(db: Database, n: int, repeat: int, label: str) -> dict[str, Any]:
    await create_schema(db)
    store = SqlLogStore(db)
    insert_s = await fill(store, n)
    if db.dialect == "postgresql":
        # What autovacuum does after a bulk load: without statistics on the full-text
        # expression, the planner cannot tell a rare word from a common one.
        await db.transaction(lambda conn: conn.exec_driver_sql("ANALYZE logs"))
    results = await time_searches(store, n, repeat)
    return {
        "backend": label,
        "records": n,
        "insert_s": round(insert_s, 1),
        "insert_records_per_s": round(n / insert_s),
        "searches": results,
        "worst_p99_ms": max(r["p99_ms"] for r in results.values()),
        "goal_met": all(r["max_ms"] < GOAL_MS for r in results.values()),
    }


async def main_async(args: argparse.Namespace) -> dict[str, Any]:
    report: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}",
        "goal_ms": GOAL_MS,
        "backends": [],
    }
    backends = args.backends.split(",")
    if "sqlite" in backends:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "logs.db"
            db = open_database(sqlite_url(path))
            try:
                row = await run_backend(db, args.records, args.repeat, "sqlite")
            finally:
                await db.dispose()
            files = [(await p.stat()).st_size async for p in anyio.Path(tmp).iterdir()]
            row["db_mb"] = round(sum(files) / 2**20, 1)
            report["backends"].append(row)
    if "postgres" in backends:
        from support.postgres import (  # pyright: ignore[reportMissingImports]  # on sys.path
            fresh_database,
            running_postgres,
        )

        with running_postgres() as server:
            async with fresh_database(server) as url:
                db = open_database(url)
                try:
                    row = await run_backend(db, args.records, args.repeat, "postgresql")
                    size = await db.transaction(
                        lambda c: c.exec_driver_sql(
                            "SELECT pg_total_relation_size('logs')"
                        ).scalar_one()
                    )
                    row["db_mb"] = round(int(size) / 2**20, 1)
                finally:
                    await db.dispose()
                report["backends"].append(row)
    if args.w_repeat:
        report["step_overhead"] = await step_overhead(args.w_repeat)
    return report


def print_report(report: dict[str, Any]) -> None:
    print(f"machine: {report['machine']}")
    for row in report["backends"]:
        print(
            f"\n{row['backend']}: {row['records']:,} records, inserted in {row['insert_s']} s "
            f"({row['insert_records_per_s']:,}/s), database {row['db_mb']} MB"
        )
        print(f"  {'search':<28}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}{'hits':>7}")
        for kind, r in row["searches"].items():
            print(f"  {kind:<28}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}{r['max_hits']:>7}")
        verdict = "met" if row["goal_met"] else "NOT met"
        print(f"  goal: every search under {report['goal_ms']:.0f} ms: {verdict}")
    for name, row in report.get("step_overhead", {}).items():
        print(
            f"\n{name} (memory store): {row['without ms/step']} ms/step without interceptors, "
            f"{row['no-op interceptor ms/step']} with a no-op one, "
            f"{row['logging interceptor ms/step']} with the logging interceptor: "
            f"{row['logging overhead %']:+} % (of which {row['of which any interceptor %']:+} % "
            "is the executor's cost of having any interceptor)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50, help="searches per kind")
    parser.add_argument("--w-repeat", type=int, default=15, help="runs of W2/W4 (0: skip)")
    parser.add_argument(
        "--backends", default="sqlite", help="sqlite, postgres or both (a local test server)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    report = anyio.run(main_async, args)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)


if __name__ == "__main__":
    main()
