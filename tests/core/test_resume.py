"""Resuming executions: after a crash, a cancel, or a person's decision."""

from __future__ import annotations

import subprocess
import sys
from datetime import timedelta

import pytest

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import Executor, ExecutorOptions
from baton.core.lease import LeaseHeldError, new_owner_id, owner_is_dead_here
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, Step
from baton.errors import UsageError
from baton.events import (
    ExecutionStarted,
    ExecutionStatus,
    StepStarted,
    StepStatus,
    StepSucceeded,
)
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio

CALLS: list[str] = []


@agent(description="Idempotent: safe to run again with the same key.", idempotent=True)
async def put(key: str, ctx: AgentContext) -> str:
    CALLS.append(f"put:{key}:{ctx.idempotency_key}")
    return key


@agent(description="Not idempotent: running it twice would do it twice.", idempotent=False)
async def send(text: str) -> str:
    CALLS.append(f"send:{text}")
    return text


@pytest.fixture
def registry() -> AgentRegistry:
    CALLS.clear()
    r = AgentRegistry()
    r.register(put)
    r.register(send)
    return r


PLAN = Plan(
    steps=[
        Step(id="done", agent="put", inputs={"key": "a"}),
        Step(id="idem", agent="put", inputs={"key": "${done.result}-b"}),
        Step(id="once", agent="send", inputs={"text": "hello"}),
        Step(id="after_once", agent="put", inputs={"key": "c"}, depends_on=["once"]),
        Step(id="free", agent="put", inputs={"key": "d"}),
    ]
)


def orchestrator(registry: AgentRegistry, store: MemoryExecutionStore) -> Orchestrator:
    executor = Executor(registry, store, options=ExecutorOptions(owner=new_owner_id()))
    return Orchestrator(registry, store, executor)


async def crashed_execution(registry: AgentRegistry, store: MemoryExecutionStore) -> str:
    """What a process leaves behind when it dies mid-run: `done` committed, `idem` and
    `once` running, the rest pending, and a lease that has expired."""
    o = orchestrator(registry, store)
    record = await o.create(PLAN)
    # The lease is left to a process elsewhere that stopped renewing it.
    owner = o.executor.options.owner
    await store.acquire_lease(record.id, "elsewhere:1:dead", ttl_s=-1, take_from=owner)
    await store.append(
        [
            ExecutionStarted(execution_id=record.id, step_count=5),
            StepStarted(execution_id=record.id, step_id="done", agent="put"),
            StepSucceeded(execution_id=record.id, step_id="done", output={"result": "a"}),
            StepStarted(execution_id=record.id, step_id="idem", agent="put"),
            StepStarted(execution_id=record.id, step_id="once", agent="send"),
        ]
    )
    return record.id


async def test_crash_recovery_reruns_idempotent_and_doubts_the_rest(
    registry: AgentRegistry,
) -> None:
    store = MemoryExecutionStore()
    ex_id = await crashed_execution(registry, store)
    o = orchestrator(registry, store)
    assert [r.id for r, _ in await o.recoverable()] == [ex_id]

    result = await o.execute(ex_id)

    assert result.status is ExecutionStatus.WAITING
    assert result.steps == {
        "done": StepStatus.SUCCEEDED,  # committed: never run again
        "idem": StepStatus.SUCCEEDED,  # re-run, with the same idempotency key
        "once": StepStatus.IN_DOUBT,  # not idempotent: a person decides
        "after_once": StepStatus.PENDING,
        "free": StepStatus.SUCCEEDED,
    }
    assert sorted(CALLS) == [f"put:a-b:{ex_id}:idem", f"put:d:{ex_id}:free"]
    assert result.outputs["idem"] == {"result": "a-b"}  # "done"'s committed output fed it
    record = await store.get_execution(ex_id)
    assert record.status is ExecutionStatus.WAITING
    assert record.error is not None
    assert "once" in record.error
    assert record.lease_owner is None  # released


async def test_resolving_a_doubt_lets_the_execution_finish(registry: AgentRegistry) -> None:
    store = MemoryExecutionStore()
    ex_id = await crashed_execution(registry, store)
    o = orchestrator(registry, store)
    await o.execute(ex_id)
    CALLS.clear()

    await o.resolve(ex_id, "once", "mark-done", output={"result": "hello"})
    result = await o.execute(ex_id)

    assert result.ok
    assert [f"put:c:{ex_id}:after_once"] == CALLS  # "once" itself did not run again


async def test_retry_decision_runs_the_step_again(registry: AgentRegistry) -> None:
    store = MemoryExecutionStore()
    ex_id = await crashed_execution(registry, store)
    o = orchestrator(registry, store)
    await o.execute(ex_id)
    CALLS.clear()
    await o.resolve(ex_id, "once", "retry")
    assert (await o.execute(ex_id)).ok
    assert CALLS[0] == "send:hello"


async def test_skip_decision_skips_dependents(registry: AgentRegistry) -> None:
    store = MemoryExecutionStore()
    ex_id = await crashed_execution(registry, store)
    o = orchestrator(registry, store)
    await o.execute(ex_id)
    await o.resolve(ex_id, "once", "skip")
    result = await o.execute(ex_id)
    assert result.status is ExecutionStatus.FAILED
    assert result.steps["once"] is StepStatus.SKIPPED
    assert result.steps["after_once"] is StepStatus.SKIPPED


async def test_bad_decisions_are_refused(registry: AgentRegistry) -> None:
    store = MemoryExecutionStore()
    ex_id = await crashed_execution(registry, store)
    o = orchestrator(registry, store)
    await o.execute(ex_id)
    with pytest.raises(UsageError, match="not in doubt"):
        await o.resolve(ex_id, "done", "retry")
    with pytest.raises(UsageError, match="does not fit agent 'send'"):
        await o.resolve(ex_id, "once", "mark-done", output={"wrong": 1})
    with pytest.raises(UsageError, match="has no step"):
        await o.resolve(ex_id, "nope", "skip")


async def test_a_live_lease_keeps_others_out(registry: AgentRegistry) -> None:
    store = MemoryExecutionStore()
    o = orchestrator(registry, store)
    record = await o.create(PLAN)
    owner = o.executor.options.owner
    await store.acquire_lease(record.id, "someone-alive", ttl_s=60, take_from=owner)
    with pytest.raises(LeaseHeldError, match="being run by another process"):
        await o.execute(record.id)
    assert CALLS == []


async def test_a_dead_holder_on_this_host_is_taken_over_at_once(registry: AgentRegistry) -> None:
    proc = subprocess.run(  # noqa: ASYNC221  # a tiny, instant child: blocking is fine here
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    dead_owner = new_owner_id().split(":")[0] + f":{proc.stdout.strip()}:gone"
    assert owner_is_dead_here(dead_owner)
    assert not owner_is_dead_here(new_owner_id())  # this process is alive
    store = MemoryExecutionStore()
    o = orchestrator(registry, store)
    record = await o.create(PLAN)
    await store.append([ExecutionStarted(execution_id=record.id)])
    owner = o.executor.options.owner
    await store.acquire_lease(record.id, dead_owner, ttl_s=3600, take_from=owner)
    found = await o.recoverable()
    assert [(r.id, owner) for r, owner in found] == [(record.id, dead_owner)]
    result = await o.execute(record.id, take_over_from=dead_owner)
    assert result.status is ExecutionStatus.SUCCEEDED


async def test_finished_executions_cannot_be_resumed(registry: AgentRegistry) -> None:
    store = MemoryExecutionStore()
    o = orchestrator(registry, store)
    result = await o.run(PLAN)
    with pytest.raises(UsageError, match="already succeeded"):
        await o.execute(result.execution_id)


async def test_lease_is_renewed_while_running(registry: AgentRegistry) -> None:
    import anyio

    @agent(description="Takes a while.")
    async def slow() -> int:
        await anyio.sleep(0.3)
        return 1

    registry.register(slow)
    store = MemoryExecutionStore()
    options = ExecutorOptions(owner="me", lease_ttl_s=0.15, cancel_poll_s=0.02)
    o = Orchestrator(registry, store, Executor(registry, store, options=options))
    record = await o.create(Plan(steps=[Step(id="s", agent="slow")]))
    expiries = []

    async def watch() -> None:
        for _ in range(10):
            await anyio.sleep(0.025)
            expiries.append((await store.get_execution(record.id)).lease_expires_at)

    async with anyio.create_task_group() as tg:
        tg.start_soon(watch)
        result = await o.execute(record.id)
    assert result.ok
    seen = [e for e in expiries if e is not None]
    assert len(set(seen)) >= 2  # renewed at least once, so it never lapsed mid-run
    assert max(seen) - min(seen) >= timedelta(seconds=0.05)
