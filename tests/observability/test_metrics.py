"""The metrics interceptor over real runs: exact counts from what the executor commits."""

from __future__ import annotations

import math
import random
from collections.abc import Iterable
from functools import partial

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.ladder import LadderPolicy
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.core.recovery import RecoveryPolicy, RetryThenFail
from baton.errors import AgentError, ErrorClass, RateLimitedError
from baton.events import ExecutionStatus, RunEvent
from baton.observability.metrics import Metrics
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio

Labels = frozenset[tuple[str, str]]


def samples(metrics: Metrics) -> dict[tuple[str, Labels], float]:
    """Every sample of the exposition, by name and labels."""
    text = metrics.render().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float:
    return samples(metrics)[(name, frozenset(labels.items()))]


def nonzero(metrics: Metrics, prefix: str) -> dict[tuple[str, Labels], float]:
    """Samples of the families starting with `prefix` that are not zero (NaN excluded)."""
    return {
        k: v
        for k, v in samples(metrics).items()
        if k[0].startswith(prefix) and v and not math.isnan(v) and not k[0].endswith("_created")
    }


def labels(**kw: str) -> Labels:
    return frozenset(kw.items())


@agent(description="Return the text.")
async def echo(text: str = "") -> str:
    return text


@agent(description="Fails on the first attempt (retryably), then works.")
async def flaky(ctx: AgentContext) -> str:
    if ctx.attempt == 1:
        raise AgentError("first try fails", retryable=True)
    return "ok"


@agent(description="Always fails; not retryable.")
async def broken() -> str:
    raise AgentError("broken on purpose; secret=hunter2")


@agent(description="Sleeps a long time.")
async def sleepy() -> str:
    await anyio.sleep(10)
    return "late"


@agent(description="Says slow down.")
async def throttled() -> str:
    raise RateLimitedError("quota spent", retry_after=0.0)


@agent(description="Search, first choice; always fails.", capability="search")
async def search_a() -> str:
    raise AgentError("search_a is down")


@agent(description="Search, second choice.", capability="search")
async def search_b() -> str:
    return "found"


def make_registry() -> AgentRegistry:
    registry = AgentRegistry()
    for a in (echo, flaky, broken, sleepy, throttled, search_a, search_b):
        registry.register(a)
    return registry


async def run(
    metrics: Metrics,
    plan: Plan,
    *,
    recovery: RecoveryPolicy | None = None,
    registry: AgentRegistry | None = None,
) -> ExecutionResult:
    registry = registry or make_registry()
    store = MemoryExecutionStore()
    options = ExecutorOptions(interceptors=(metrics.interceptor,))
    executor = Executor(
        registry, store, options=options, recovery=recovery or RetryThenFail(random.Random(1))
    )
    return await Orchestrator(registry, store, executor).run(plan)


def retry(attempts: int, timeout_s: float | None = None) -> StepPolicy:
    return StepPolicy(
        retry=RetryPolicy(max_attempts=attempts, initial_delay_s=0.0), timeout_s=timeout_s
    )


async def test_a_failed_run_is_counted_exactly() -> None:
    metrics = Metrics()
    plan = Plan(
        steps=[
            Step(id="a", agent="flaky", policy=retry(2)),
            Step(id="b", agent="broken"),
            Step(id="c", agent="echo", depends_on=["b"]),
        ]
    )
    result = await run(metrics, plan)

    assert result.status is ExecutionStatus.FAILED
    histograms = ("baton_step_duration_seconds", "baton_execution_duration_seconds")
    counters = {
        k: v for k, v in nonzero(metrics, "baton_").items() if not k[0].startswith(histograms)
    }
    assert counters == {
        ("baton_executions_started_total", labels()): 1,
        ("baton_executions_finished_total", labels(status="failed")): 1,
        ("baton_steps_started_total", labels(agent="flaky")): 2,
        ("baton_steps_started_total", labels(agent="broken")): 1,
        ("baton_steps_finished_total", labels(agent="flaky", status="succeeded")): 1,
        ("baton_steps_finished_total", labels(agent="broken", status="failed")): 1,
        ("baton_steps_finished_total", labels(agent="unknown", status="skipped")): 1,
        ("baton_step_retries_total", labels(agent="flaky")): 1,
        ("baton_step_errors_total", labels(agent="flaky", error_class="transient")): 1,
        ("baton_step_errors_total", labels(agent="broken", error_class="permanent")): 1,
    }
    counts = {
        (k[0], k[1]): v
        for k, v in nonzero(metrics, "baton_").items()
        if k[0].endswith("_seconds_count")
    }
    assert counts == {
        ("baton_execution_duration_seconds_count", labels(status="failed")): 1,
        ("baton_step_duration_seconds_count", labels(agent="flaky", status="succeeded")): 1,
        ("baton_step_duration_seconds_count", labels(agent="broken", status="failed")): 1,
    }
    # Everything here took far less than 10 s: each histogram has its one sample below it.
    assert (
        value(
            metrics,
            "baton_step_duration_seconds_bucket",
            agent="flaky",
            status="succeeded",
            le="10.0",
        )
        == 1
    )
    assert (
        value(metrics, "baton_execution_duration_seconds_bucket", status="failed", le="10.0") == 1
    )
    assert value(metrics, "baton_executions_in_progress") == 0
    assert value(metrics, "baton_execution_success_ratio") == 0.0
    assert metrics.interceptor.watched_executions == 0
    # Labels carry names and classes only: never an error message or an id.
    text = metrics.render().decode()
    assert "hunter2" not in text
    assert result.execution_id not in text


async def test_success_ratio_and_durations_over_several_runs() -> None:
    metrics = Metrics()
    assert math.isnan(value(metrics, "baton_execution_success_ratio"))
    for _ in range(3):
        await run(metrics, Plan(steps=[Step(id="a", agent="echo")]))
    await run(metrics, Plan(steps=[Step(id="a", agent="broken")]))

    assert value(metrics, "baton_execution_success_ratio") == 0.75
    assert value(metrics, "baton_executions_started_total") == 4
    assert value(metrics, "baton_executions_finished_total", status="succeeded") == 3
    assert value(metrics, "baton_executions_finished_total", status="failed") == 1
    assert value(metrics, "baton_executions_finished_total", status="cancelled") == 0
    assert value(metrics, "baton_execution_duration_seconds_count", status="succeeded") == 3
    assert (
        value(metrics, "baton_step_duration_seconds_count", agent="echo", status="succeeded") == 3
    )
    # A no-op agent takes well under a millisecond... less than a second anyway.
    assert value(metrics, "baton_step_duration_seconds_sum", agent="echo", status="succeeded") < 1


async def test_timeouts_are_counted_as_timeout_errors() -> None:
    metrics = Metrics()
    plan = Plan(steps=[Step(id="a", agent="sleepy", policy=retry(2, timeout_s=0.05))])
    result = await run(metrics, plan)

    assert result.status is ExecutionStatus.FAILED
    assert value(metrics, "baton_step_errors_total", agent="sleepy", error_class="timeout") == 2
    assert value(metrics, "baton_step_retries_total", agent="sleepy") == 1
    assert value(metrics, "baton_steps_finished_total", agent="sleepy", status="failed") == 1
    assert value(metrics, "baton_step_duration_seconds_count", agent="sleepy", status="failed") == 1
    assert (
        value(metrics, "baton_step_duration_seconds_sum", agent="sleepy", status="failed") >= 0.05
    )


async def test_rate_limits_are_their_own_error_class() -> None:
    metrics = Metrics()
    await run(metrics, Plan(steps=[Step(id="a", agent="throttled", policy=retry(3))]))

    assert (
        value(metrics, "baton_step_errors_total", agent="throttled", error_class="rate_limited")
        == 3
    )
    assert (
        value(metrics, "baton_step_errors_total", agent="throttled", error_class="permanent") == 0
    )


async def test_recovery_rungs_count_errors_once_under_the_failing_agent() -> None:
    metrics = Metrics()
    registry = make_registry()
    result = await run(
        metrics,
        Plan(steps=[Step(id="a", agent="search_a")]),
        recovery=LadderPolicy(registry, random.Random(1)),
        registry=registry,
    )

    assert result.ok
    assert (
        value(metrics, "baton_step_recoveries_total", rung="alternative", error_class="permanent")
        == 1
    )
    assert value(metrics, "baton_step_errors_total", agent="search_a", error_class="permanent") == 1
    assert value(metrics, "baton_steps_finished_total", agent="search_b", status="succeeded") == 1
    assert value(metrics, "baton_steps_finished_total", agent="search_a", status="succeeded") == 0
    total_errors = sum(
        v for (name, _), v in samples(metrics).items() if name == "baton_step_errors_total"
    )
    assert total_errors == 1


async def test_a_recovery_that_ends_in_fail_counts_one_error_with_its_class() -> None:
    metrics = Metrics()

    # search_a's only alternative is a search_b that fails too: the ladder then fails.
    @agent(name="search_b", description="Search, second choice; down too.", capability="search")
    async def search_b_down() -> str:
        raise AgentError("search_b is down too")

    registry = AgentRegistry()
    for a in (search_a, search_b_down):
        registry.register(a)
    result = await run(
        metrics,
        Plan(steps=[Step(id="a", agent="search_a")]),
        recovery=LadderPolicy(registry, random.Random(1)),
        registry=registry,
    )

    assert result.status is ExecutionStatus.FAILED
    assert value(metrics, "baton_step_recoveries_total", rung="fail", error_class="permanent") == 1
    assert value(metrics, "baton_step_errors_total", agent="search_a", error_class="permanent") == 1
    assert value(metrics, "baton_step_errors_total", agent="search_b", error_class="permanent") == 1
    assert value(metrics, "baton_steps_finished_total", agent="search_b", status="failed") == 1


async def test_cancelled_steps_are_not_errors() -> None:
    metrics = Metrics()
    registry = make_registry()
    store = MemoryExecutionStore()
    executor = Executor(
        registry, store, options=ExecutorOptions(interceptors=(metrics.interceptor,))
    )
    orchestrator = Orchestrator(registry, store, executor)
    record = await orchestrator.create(Plan(steps=[Step(id="a", agent="sleepy")]))

    started = anyio.Event()

    def on_event(event: RunEvent) -> None:
        if event.kind == "step_started":
            started.set()

    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(orchestrator.execute, record.id, on_event=on_event))
        with anyio.fail_after(5):
            await started.wait()
        assert value(metrics, "baton_executions_in_progress") == 1
        tg.cancel_scope.cancel()

    assert value(metrics, "baton_executions_in_progress") == 0
    assert value(metrics, "baton_executions_finished_total", status="cancelled") == 1
    assert value(metrics, "baton_steps_finished_total", agent="sleepy", status="cancelled") == 1
    errors = [
        v for (name, _), v in samples(metrics).items() if name == "baton_step_errors_total" and v
    ]
    assert errors == []
    assert metrics.interceptor.watched_executions == 0


def test_every_error_class_has_a_series_per_agent_from_the_start() -> None:
    metrics = Metrics()
    names: Iterable[tuple[str, Labels]] = samples(metrics)
    classes = {dict(lbl)["error_class"] for name, lbl in names if name == "baton_step_errors_total"}
    assert classes == {c.value for c in ErrorClass}


async def test_a_failed_step_keeps_the_class_of_its_exception_not_of_its_type_name() -> None:
    # A retryable AgentError is transient; its type name alone would say permanent.
    metrics = Metrics()
    await run(metrics, Plan(steps=[Step(id="a", agent="flaky", policy=retry(1))]))

    assert value(metrics, "baton_steps_finished_total", agent="flaky", status="failed") == 1
    assert value(metrics, "baton_step_errors_total", agent="flaky", error_class="transient") == 1
    assert value(metrics, "baton_step_errors_total", agent="flaky", error_class="permanent") == 0
