"""Recovery benchmark: resume an execution of 10,000 steps left half-done by a crash.

The execution (100 independent chains of 100 no-op steps) is stored in SQLite with the
first half of every chain succeeded and the next step of each chain still "running", as a
killed process leaves it. We time how long `Orchestrator.execute` takes from the call to
the first newly started step being committed (load + validate + rebuild the scheduling
state), and to the end of the execution.

    .venv/bin/python bench/bench_recovery.py
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import anyio

sys.path.insert(0, str(Path(__file__).parent))

from baton.agents import AgentRegistry
from baton.core.executor import Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, Step
from baton.events import (
    ExecutionStarted,
    RunEvent,
    StepStarted,
    StepSucceeded,
)
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.schema import create_schema
from workloads import BENCH_AGENTS

CHAINS, LENGTH = 100, 100


def plan() -> Plan:
    steps = []
    for c in range(CHAINS):
        for i in range(LENGTH):
            deps = [f"c{c}_{i - 1}"] if i else []
            steps.append(Step(id=f"c{c}_{i}", agent="noop", depends_on=deps))
    return Plan(name="recovery", steps=steps)


async def main() -> None:
    registry = AgentRegistry()
    registry.register_all(BENCH_AGENTS, source="bench")
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(sqlite_url(Path(tmp) / "bench.db"))
        await create_schema(db)
        store = SqlExecutionStore(db)
        the_plan = plan()
        crashed = Orchestrator(registry, store, Executor(registry, store))
        record = await crashed.create(the_plan)
        # What a killed process leaves: half of each chain done, the next step running.
        events: list[RunEvent] = [ExecutionStarted(execution_id=record.id, step_count=10_000)]
        for c in range(CHAINS):
            for i in range(LENGTH // 2):
                sid = f"c{c}_{i}"
                events.append(StepStarted(execution_id=record.id, step_id=sid, agent="noop"))
                events.append(StepSucceeded(execution_id=record.id, step_id=sid, output={}))
            events.append(
                StepStarted(execution_id=record.id, step_id=f"c{c}_{LENGTH // 2}", agent="noop")
            )
        for i in range(0, len(events), 2000):
            await store.append(events[i : i + 2000])
        # ...and a lease its holder stopped renewing.
        dead = crashed.executor.options.owner
        await store.acquire_lease(record.id, "dead-process", ttl_s=-1, take_from=dead)

        # A fresh process: new registry stats, new executor, new owner.
        resumed = Orchestrator(
            registry, store, Executor(registry, store, options=ExecutorOptions())
        )
        first_start: list[float] = []
        began = time.perf_counter()

        def on_event(event: RunEvent) -> None:
            if not first_start and event.kind == "step_started":
                first_start.append(time.perf_counter() - began)

        result = await resumed.execute(record.id, on_event=on_event)
        total = time.perf_counter() - began
        assert result.ok
        ran = sum(1 for e in await store.events(record.id) if e.event.kind == "step_started")
        await store.close()
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    print("resume of a 10,000-step execution (5,000 steps done, 100 running) on SQLite:")
    print(f"  to the first step started again: {first_start[0]:.3f} s")
    print(f"  to the end (5,000 steps run):     {total:.3f} s")
    print(f"  step starts recorded in all: {ran} (5,100 before the crash + 5,000 after)")


if __name__ == "__main__":
    anyio.run(main)
