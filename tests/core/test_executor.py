from __future__ import annotations

import random
from typing import Any

import anyio
import pytest

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.core.recovery import RetryThenFail
from baton.core.run_state import ConcurrencyLimits
from baton.errors import AgentError, RateLimitedError
from baton.events import ExecutionStatus, RunEvent, StepStatus
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio

FAST_RETRY = StepPolicy(retry=RetryPolicy(max_attempts=3, initial_delay_s=0.001, jitter=0.0))


def orchestrator(
    registry: AgentRegistry, *, limits: ConcurrencyLimits | None = None, poll: float = 1.0
) -> Orchestrator:
    store = MemoryExecutionStore()
    options = ExecutorOptions(limits=limits or ConcurrencyLimits(), cancel_poll_s=poll)
    executor = Executor(registry, store, options=options, recovery=RetryThenFail(random.Random(1)))
    return Orchestrator(registry, store, executor)


async def run(o: Orchestrator, *steps: Step) -> tuple[ExecutionResult, list[RunEvent]]:
    events: list[RunEvent] = []
    result = await o.run(Plan(steps=list(steps)), on_event=events.append)
    return result, events


async def test_outputs_flow_through_references(registry: AgentRegistry) -> None:
    result, _ = await run(
        orchestrator(registry),
        Step(id="a", agent="echo", inputs={"text": "hello"}),
        Step(id="b", agent="shout", inputs={"text": "${a.text} world"}),
    )
    assert result.ok
    assert result.outputs["b"] == {"text": "HELLO WORLD"}


async def test_failure_skips_dependents_and_independent_branches_go_on(
    registry: AgentRegistry,
) -> None:
    o = orchestrator(registry)
    result, events = await run(
        o,
        Step(id="bad", agent="broken"),
        Step(id="after", agent="echo", inputs={"text": "${bad.text}"}),
        Step(id="after2", agent="echo", inputs={"text": "x"}, depends_on=["after"]),
        Step(id="fine", agent="echo", inputs={"text": "ok"}),
    )
    assert result.status is ExecutionStatus.FAILED
    assert result.steps == {
        "bad": StepStatus.FAILED,
        "after": StepStatus.SKIPPED,
        "after2": StepStatus.SKIPPED,
        "fine": StepStatus.SUCCEEDED,
    }
    assert result.errors["after"] == "dependency 'bad' did not succeed"
    steps = {s.step_id: s for s in await o.store.get_steps(result.execution_id)}
    assert steps["after2"].error == "dependency 'after' did not succeed"
    assert steps["bad"].error == "broken on purpose"
    record = await o.store.get_execution(result.execution_id)
    assert record.status is ExecutionStatus.FAILED
    assert record.error is not None
    assert "broken on purpose" in record.error
    assert events[-1].kind == "execution_finished"


async def test_retryable_errors_are_retried_then_succeed(registry: AgentRegistry) -> None:
    calls: list[int] = []

    @agent(description="Fails twice with a rate limit, then works.")
    async def flaky(ctx: AgentContext) -> int:
        calls.append(ctx.attempt)
        if ctx.attempt < 3:
            raise RateLimitedError("slow down", retry_after=0.01)
        return ctx.attempt

    registry.register(flaky)
    result, events = await run(
        orchestrator(registry), Step(id="f", agent="flaky", policy=FAST_RETRY)
    )
    assert result.ok
    assert calls == [1, 2, 3]
    retries = [e for e in events if e.kind == "step_retrying"]
    assert [e.attempt for e in retries] == [1, 2]  # type: ignore[union-attr]
    assert all(e.delay_s >= 0.01 for e in retries)  # type: ignore[union-attr]  # retry_after honoured
    assert {e.error_class for e in retries} == {"rate_limited"}  # type: ignore[union-attr]


async def test_retries_stop_at_max_attempts(registry: AgentRegistry) -> None:
    calls: list[int] = []

    @agent(description="Always fails, retryably.")
    async def down(ctx: AgentContext) -> int:
        calls.append(ctx.attempt)
        raise AgentError("service unavailable", retryable=True)

    registry.register(down)
    result, _ = await run(orchestrator(registry), Step(id="d", agent="down", policy=FAST_RETRY))
    assert result.status is ExecutionStatus.FAILED
    assert calls == [1, 2, 3]


async def test_non_retryable_errors_are_not_retried(registry: AgentRegistry) -> None:
    result, events = await run(
        orchestrator(registry), Step(id="b", agent="broken", policy=FAST_RETRY)
    )
    assert result.status is ExecutionStatus.FAILED
    assert not [e for e in events if e.kind == "step_retrying"]


async def test_unexpected_exceptions_fail_the_step_with_their_type(registry: AgentRegistry) -> None:
    @agent(description="Has a bug.")
    async def buggy() -> int:
        return 1 // 0

    registry.register(buggy)
    result, _ = await run(orchestrator(registry), Step(id="x", agent="buggy"))
    assert result.errors["x"] == "ZeroDivisionError: integer division or modulo by zero"


async def test_timeout_fails_the_attempt(registry: AgentRegistry) -> None:
    policy = StepPolicy(timeout_s=0.05, retry=RetryPolicy(max_attempts=1))
    result, events = await run(
        orchestrator(registry), Step(id="n", agent="nap", inputs={"seconds": 5}, policy=policy)
    )
    assert result.status is ExecutionStatus.FAILED
    failed = [e for e in events if e.kind == "step_failed"]
    assert failed[0].error_type == "StepTimeoutError"  # type: ignore[union-attr]
    assert failed[0].error_class == "timeout"  # type: ignore[union-attr]


async def test_steps_start_when_their_own_dependencies_are_done(registry: AgentRegistry) -> None:
    # b depends only on a (fast); it must start long before the slow independent step ends.
    result, events = await run(
        orchestrator(registry),
        Step(id="a", agent="nap", inputs={"seconds": 0.01}),
        Step(id="b", agent="nap", inputs={"seconds": 0.01}, depends_on=["a"]),
        Step(id="slow", agent="nap", inputs={"seconds": 0.5}),
    )
    assert result.ok
    order = [(e.kind, getattr(e, "step_id", "")) for e in events]
    assert order.index(("step_succeeded", "b")) < order.index(("step_succeeded", "slow"))


async def test_global_concurrency_limit_is_respected(registry: AgentRegistry) -> None:
    running = 0
    peak = 0

    @agent(description="Counts how many run at once.")
    async def count() -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1
        return 0

    registry.register(count)
    o = orchestrator(registry, limits=ConcurrencyLimits(max_concurrency=3))
    result, _ = await run(o, *[Step(id=f"c{i}", agent="count") for i in range(12)])
    assert result.ok
    assert peak == 3


async def test_cancelling_the_scope_records_cancelled_steps(registry: AgentRegistry) -> None:
    o = orchestrator(registry)
    plan = Plan(
        steps=[
            Step(id="quick", agent="echo", inputs={"text": "x"}),
            Step(id="long", agent="nap", inputs={"seconds": 30}),
            Step(id="later", agent="echo", inputs={"text": "y"}, depends_on=["long"]),
        ]
    )
    record = await o.create(plan)
    with anyio.move_on_after(0.2):
        await o.executor.execute(record.id, plan)
    steps = {s.step_id: s.status for s in await o.store.get_steps(record.id)}
    assert steps == {
        "quick": StepStatus.SUCCEEDED,
        "long": StepStatus.CANCELLED,
        "later": StepStatus.CANCELLED,
    }
    assert (await o.store.get_execution(record.id)).status is ExecutionStatus.CANCELLED


async def test_cancel_request_from_elsewhere_stops_the_run(registry: AgentRegistry) -> None:
    o = orchestrator(registry, poll=0.02)
    plan = Plan(steps=[Step(id="long", agent="nap", inputs={"seconds": 30})])
    record = await o.create(plan)
    result: dict[str, Any] = {}

    async def runner() -> None:
        try:
            result["r"] = await o.executor.execute(record.id, plan)
        except anyio.get_cancelled_exc_class():
            result["cancelled"] = True
            raise

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(runner)
            await anyio.sleep(0.05)
            await o.cancel(record.id)
    final = await o.store.get_execution(record.id)
    assert final.status is ExecutionStatus.CANCELLED


async def test_cancel_of_a_pending_execution_is_immediate(registry: AgentRegistry) -> None:
    o = orchestrator(registry)
    record = await o.create(Plan(steps=[Step(id="a", agent="echo", inputs={"text": "x"})]))
    after = await o.cancel(record.id)
    assert after.status is ExecutionStatus.CANCELLED
    assert [s.status for s in await o.store.get_steps(record.id)] == [StepStatus.CANCELLED]


async def test_cancel_of_a_pending_execution_another_process_holds_is_a_request(
    registry: AgentRegistry,
) -> None:
    o = orchestrator(registry)
    record = await o.create(Plan(steps=[Step(id="a", agent="echo", inputs={"text": "x"})]))
    assert await o.store.acquire_lease(
        record.id, "another-live-process", 30, take_from=o.executor.options.owner
    )
    after = await o.cancel(record.id)
    assert after.status is ExecutionStatus.PENDING  # its holder will see the flag and stop
    assert after.cancel_requested


async def test_resume_does_not_rerun_succeeded_steps(registry: AgentRegistry) -> None:
    calls: list[str] = []

    @agent(description="Counts calls.")
    async def tally(name: str) -> str:
        calls.append(name)
        return name

    registry.register(tally)
    o = orchestrator(registry)
    plan = Plan(
        steps=[
            Step(id="a", agent="tally", inputs={"name": "a"}),
            Step(id="b", agent="nap", inputs={"seconds": 30}, depends_on=["a"]),
            Step(id="c", agent="tally", inputs={"name": "${a.result}-c"}, depends_on=["b"]),
        ]
    )
    record = await o.create(plan)
    with anyio.move_on_after(0.2):
        await o.executor.execute(record.id, plan)
    assert calls == ["a"]
    # Make the slow step quick and resume: "a" is not run again, its output still feeds "c".
    registry.register(_quick_nap(), replace=True)
    result = await o.execute(record.id)
    assert result.ok
    assert calls == ["a", "a-c"]


def _quick_nap() -> Any:
    @agent(name="nap", description="Sleep less.")
    async def nap(seconds: float = 0.0) -> float:
        return 0.0

    return nap


async def test_agent_log_progress_and_partials_become_events(registry: AgentRegistry) -> None:
    @agent(description="Talks while it works.")
    async def chatty(ctx: AgentContext) -> int:
        ctx.log("starting")
        ctx.progress(0.5, "half way")
        ctx.partial({"rows": 10})
        return 1

    registry.register(chatty)
    o = orchestrator(registry)
    result, events = await run(o, Step(id="c", agent="chatty"))
    kinds = [e.kind for e in events]
    assert kinds.index("log") < kinds.index("progress") < kinds.index("partial")
    stored = [s.event.kind for s in await o.store.events(result.execution_id)]
    assert stored == kinds


async def test_events_are_committed_before_anyone_sees_them(registry: AgentRegistry) -> None:
    o = orchestrator(registry)
    seen_in_store: list[bool] = []
    store = o.store

    def check(event: RunEvent) -> None:
        stored = store._events[event.execution_id]  # type: ignore[attr-defined]
        seen_in_store.append(any(e is event for _, e in stored))

    await o.run(Plan(steps=[Step(id="a", agent="echo", inputs={"text": "x"})]), on_event=check)
    assert seen_in_store
    assert all(seen_in_store)


async def test_steps_after_a_timeout_still_run(registry: AgentRegistry) -> None:
    # A timeout ends the worker that ran the step; later steps must get a worker all the same.
    policy = StepPolicy(timeout_s=0.05, retry=RetryPolicy(max_attempts=1))
    o = orchestrator(registry, limits=ConcurrencyLimits(max_concurrency=1))
    result, _ = await run(
        o,
        Step(id="slow", agent="nap", inputs={"seconds": 5}, policy=policy),
        *[Step(id=f"n{i}", agent="echo", inputs={"text": str(i)}) for i in range(5)],
    )
    assert result.steps["slow"] is StepStatus.FAILED
    assert all(result.steps[f"n{i}"] is StepStatus.SUCCEEDED for i in range(5))


async def test_an_agent_swallowing_its_timeout_does_not_wedge_the_run(
    registry: AgentRegistry,
) -> None:
    @agent(description="Ignores cancellation and returns anyway.")
    async def stubborn() -> int:
        try:
            await anyio.sleep(5)
        except anyio.get_cancelled_exc_class():
            return 1  # swallowed: bad manners, but it must not hang baton
        return 0

    registry.register(stubborn)
    policy = StepPolicy(timeout_s=0.05, retry=RetryPolicy(max_attempts=1))
    o = orchestrator(registry, limits=ConcurrencyLimits(max_concurrency=1))
    with anyio.fail_after(5):
        result, _ = await run(
            o,
            Step(id="s", agent="stubborn", policy=policy),
            Step(id="after", agent="echo", inputs={"text": "x"}, depends_on=["s"]),
            Step(id="other", agent="echo", inputs={"text": "y"}),
        )
    # The agent returned a result, so it stands; the worker that ran it retires.
    assert result.ok
    assert result.outputs["s"] == {"result": 1}
