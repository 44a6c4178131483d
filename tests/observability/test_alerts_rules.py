"""Each alert rule fires when its condition holds and resolves when it clears.

The rule tests run the whole path, on each backend: executions in a store, `EngineSignals`
reading them through the backend's `Activity`, the evaluator firing and resolving alerts in
the backend's `AlertStore`. A fake clock moves time; nothing waits (except the one quota kept
by the ``limits`` library, which reads the wall clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RunEvent,
    StepFailed,
    StepRetrying,
)
from baton.observability.alerts import AlertEvaluator, Tick
from baton.observability.alerts_rules import (
    AlertThresholds,
    ErrorRate,
    LongRunning,
    MemoryPressure,
    MemoryUsage,
    QuotaUsage,
    RateLimitNearlyExhausted,
    Rule,
    Signals,
    SuccessRate,
    default_rules,
)
from baton.observability.alerts_signals import EngineSignals, RateLimits
from baton.safety.rate_limit import RateLimit, RateLimiter
from baton.store.alerts import (
    Activity,
    Alert,
    AlertStore,
    MemoryAlertStore,
    Outcomes,
    RunningExecution,
    Severity,
    StoreActivity,
)
from baton.store.memory import MemoryExecutionStore
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord, StepRecord
from baton.store.sql.alerts import SqlActivity, SqlAlertStore
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.rate_limits import SqlAdmissionStore
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
PROCESS = "test-host:1"


@dataclass
class Rig:
    """An engine's worth of stores on one backend, a fake clock and a fake memory probe."""

    executions: ExecutionStore
    alerts: AlertStore
    activity: Activity
    db: Database | None
    clock: FakeClock = field(default_factory=lambda: FakeClock(T0))
    memory: MemoryUsage | None = None

    def evaluator(
        self,
        rules: Sequence[Rule],
        *,
        thresholds: AlertThresholds | None = None,
        rate_limits: RateLimits | None = None,
    ) -> AlertEvaluator:
        signals = EngineSignals(
            self.activity,
            thresholds or AlertThresholds(),
            rate_limits=rate_limits,
            memory=lambda: self.memory,
            process=PROCESS,
        )
        return AlertEvaluator(self.alerts, signals, rules, clock=self.clock, process=PROCESS)

    async def tick_at(self, evaluator: AlertEvaluator, seconds: float) -> Tick:
        self.clock.now = T0 + timedelta(seconds=seconds)
        return await evaluator.tick()


@pytest.fixture
def rig(store_database: Database | None) -> Rig:
    if store_database is None:
        executions = MemoryExecutionStore()
        return Rig(executions, MemoryAlertStore(), StoreActivity(executions), None)
    return Rig(
        SqlExecutionStore(store_database),
        SqlAlertStore(store_database),
        SqlActivity(store_database),
        store_database,
    )


async def new_execution(
    executions: ExecutionStore, ex_id: str, workspace: str = "ws1", *events: RunEvent
) -> None:
    record = ExecutionRecord(
        id=ex_id,
        name=f"plan of {ex_id}",
        request=None,
        plan={},
        status=ExecutionStatus.PENDING,
        created_at=T0 - timedelta(hours=1),
        workspace_id=workspace,
    )
    await executions.create_execution(
        record, [StepRecord(execution_id=ex_id, step_id="a", agent="x", position=0)]
    )
    if events:
        await executions.append(list(events))


async def finished(
    executions: ExecutionStore, ex_id: str, workspace: str, status: ExecutionStatus, at: datetime
) -> None:
    await new_execution(
        executions,
        ex_id,
        workspace,
        ExecutionStarted(execution_id=ex_id, at=at - timedelta(seconds=1)),
        ExecutionFinished(execution_id=ex_id, status=status, at=at),
    )


def idents(alerts: Sequence[Alert]) -> list[tuple[str, str]]:
    return [a.ident for a in alerts]


# --- long_running -------------------------------------------------------------------------


async def test_long_running_fires_past_the_threshold_and_resolves_when_it_ends(rig: Rig) -> None:
    ex = rig.executions
    await new_execution(ex, "ex_slow", "ws1", ExecutionStarted(execution_id="ex_slow", at=T0))
    await new_execution(
        ex,
        "ex_quick",
        "ws1",
        ExecutionStarted(execution_id="ex_quick", at=T0 + timedelta(seconds=60)),
    )
    evaluator = rig.evaluator([LongRunning(300)])

    assert (await rig.tick_at(evaluator, 299)).fired == []

    tick = await rig.tick_at(evaluator, 301)
    assert idents(tick.fired) == [("long_running", "ex_slow")]
    alert = tick.fired[0]
    assert alert.workspace_id == "ws1"
    assert alert.labels == {"execution_id": "ex_slow"}
    assert alert.severity is Severity.WARNING
    assert "running for 5m 1s, longer than 5m" in alert.message
    assert alert.fired_at == T0 + timedelta(seconds=301)

    again = await rig.tick_at(evaluator, 350)  # still running: still the one alert
    assert (again.fired, again.resolved) == ([], [])
    assert [a.id for a in again.firing] == [alert.id]

    await ex.append([ExecutionFinished(execution_id="ex_slow", at=T0 + timedelta(seconds=355))])
    done = await rig.tick_at(evaluator, 358)
    assert [(a.id, a.resolved_at) for a in done.resolved] == [
        (alert.id, T0 + timedelta(seconds=358))
    ]
    assert done.firing == []

    later = await rig.tick_at(evaluator, 361)  # the other one is over 5 minutes now
    assert idents(later.fired) == [("long_running", "ex_quick")]


# --- success_rate -------------------------------------------------------------------------


async def test_success_rate_fires_under_the_minimum_and_resolves_above_it(rig: Rig) -> None:
    ex = rig.executions
    window = 3600
    ends = T0 + timedelta(minutes=30)
    for i in range(10):
        status = ExecutionStatus.SUCCEEDED if i < 6 else ExecutionStatus.FAILED
        await finished(ex, f"ex_{i}", "ws1", status, ends + timedelta(seconds=i))
    for i in range(3):  # too few to judge, though all failed
        await finished(ex, f"ex_b{i}", "ws2", ExecutionStatus.FAILED, ends)
    evaluator = rig.evaluator([SuccessRate(0.7, window, 10)])

    tick = await rig.tick_at(evaluator, 3000)
    assert idents(tick.fired) == [("success_rate", "ws1")]
    assert tick.fired[0].workspace_id == "ws1"
    assert tick.fired[0].severity is Severity.CRITICAL
    assert "6 of 10 executions" in tick.fired[0].message
    assert "60%, under 70%" in tick.fired[0].message

    for i in range(5):
        await finished(ex, f"ex_ok{i}", "ws1", ExecutionStatus.SUCCEEDED, ends)
    tick = await rig.tick_at(evaluator, 3010)  # 11 of 15: 73%
    assert idents(tick.resolved) == [("success_rate", "ws1")]
    assert tick.firing == []


async def test_success_rate_forgets_executions_that_left_the_window(rig: Rig) -> None:
    for i in range(10):
        await finished(rig.executions, f"ex_{i}", "ws1", ExecutionStatus.FAILED, T0)
    thresholds = AlertThresholds(success_window_s=600)
    evaluator = rig.evaluator([SuccessRate(0.7, 600, 10)], thresholds=thresholds)

    assert idents((await rig.tick_at(evaluator, 10)).fired) == [("success_rate", "ws1")]
    assert idents((await rig.tick_at(evaluator, 601)).resolved) == [("success_rate", "ws1")]


# --- error_rate ---------------------------------------------------------------------------


async def test_error_rate_fires_over_the_limit_and_resolves_a_minute_later(rig: Rig) -> None:
    errors: list[RunEvent] = [ExecutionStarted(execution_id="ex_1", at=T0)]
    for i in range(6):
        at = T0 + timedelta(seconds=i)
        errors.append(StepRetrying(execution_id="ex_1", step_id="a", attempt=i + 1, at=at))
    errors.append(StepFailed(execution_id="ex_1", step_id="a", at=T0 + timedelta(seconds=7)))
    await new_execution(rig.executions, "ex_1", "ws1", *errors)
    await new_execution(
        rig.executions,
        "ex_2",
        "ws2",
        ExecutionStarted(execution_id="ex_2", at=T0),
        *[
            StepRetrying(execution_id="ex_2", step_id="a", at=T0 + timedelta(seconds=20))
            for _ in range(3)
        ],
    )
    evaluator = rig.evaluator([ErrorRate(10)])

    assert (await rig.tick_at(evaluator, 30)).fired == []  # 10 errors: not more than 10

    await rig.executions.append(
        [StepFailed(execution_id="ex_2", step_id="a", at=T0 + timedelta(seconds=31))]
    )
    tick = await rig.tick_at(evaluator, 40)
    assert idents(tick.fired) == [("error_rate", "all")]
    assert tick.fired[0].workspace_id is None
    assert tick.fired[0].labels == {"errors": "11"}
    assert tick.fired[0].message.startswith("11 step attempts failed in the last minute")

    assert (await rig.tick_at(evaluator, 60)).resolved == []  # the first error is 60 s old
    tick = await rig.tick_at(evaluator, 61)  # it left the minute: 10 errors
    assert idents(tick.resolved) == [("error_rate", "all")]


# --- memory -------------------------------------------------------------------------------


async def test_memory_fires_over_the_fraction_and_resolves_under_it(rig: Rig) -> None:
    evaluator = rig.evaluator([MemoryPressure(0.8)])
    rig.memory = MemoryUsage(rss_bytes=800 * 2**20, limit_bytes=1000 * 2**20, source="cgroup")
    assert (await rig.tick_at(evaluator, 1)).fired == []  # 80%: not over

    rig.memory = MemoryUsage(rss_bytes=850 * 2**20, limit_bytes=1000 * 2**20, source="cgroup")
    tick = await rig.tick_at(evaluator, 2)
    assert idents(tick.fired) == [("memory", PROCESS)]
    alert = tick.fired[0]
    assert alert.labels == {"process": PROCESS, "limit_source": "cgroup"}
    assert alert.workspace_id is None
    assert "850 MiB of its 1,000 MiB memory limit (cgroup): 85%, over 80%" in alert.message

    rig.memory = MemoryUsage(rss_bytes=500 * 2**20, limit_bytes=1000 * 2**20)
    assert idents((await rig.tick_at(evaluator, 3)).resolved) == [("memory", PROCESS)]


async def test_memory_that_cannot_be_read_fires_nothing(rig: Rig) -> None:
    rig.memory = None
    assert (await rig.tick_at(rig.evaluator([MemoryPressure(0.01)]), 1)).fired == []


# --- rate_limit ---------------------------------------------------------------------------


async def test_a_shared_quota_nearly_spent_fires_and_resolves_as_its_window_moves(
    database: Database,
) -> None:
    """The engine on a database keeps quotas in ``rate_limit_admissions``."""
    rig = Rig(SqlExecutionStore(database), SqlAlertStore(database), SqlActivity(database), database)
    admissions = SqlAdmissionStore(database)
    limiter = RateLimiter({"http": RateLimit(requests=10, window_s=60)}, admissions=admissions)
    evaluator = rig.evaluator([RateLimitNearlyExhausted(0.1)], rate_limits=limiter)
    for i in range(8):
        assert await admissions.try_admit("http:api.x", 10, 60, T0 + timedelta(seconds=i)) is None
    await admissions.try_admit("unconfigured", 1, 60, T0)

    assert (await rig.tick_at(evaluator, 10)).fired == []  # 2 of 10 left: 20%

    await admissions.try_admit("http:api.x", 10, 60, T0 + timedelta(seconds=11))
    tick = await rig.tick_at(evaluator, 12)  # 1 of 10 left
    assert idents(tick.fired) == [("rate_limit", "http:api.x")]
    assert tick.fired[0].labels == {"rate_limit_key": "http:api.x"}
    assert "has 1 of 10 calls left" in tick.fired[0].message

    tick = await rig.tick_at(evaluator, 61)  # the first two left the window
    assert idents(tick.resolved) == [("rate_limit", "http:api.x")]


async def test_a_process_quota_nearly_spent_fires_and_resolves_as_its_window_moves() -> None:
    """The in-memory engine keeps quotas in the ``limits`` library (wall clock: 0.3 s)."""
    executions = MemoryExecutionStore()
    rig = Rig(executions, MemoryAlertStore(), StoreActivity(executions), None)
    limiter = RateLimiter({"k": RateLimit(requests=10, window_s=0.3)})
    evaluator = rig.evaluator([RateLimitNearlyExhausted(0.1)], rate_limits=limiter)
    for _ in range(9):
        async with limiter.slot("k"):
            pass

    tick = await evaluator.tick()
    assert idents(tick.fired) == [("rate_limit", f"{PROCESS}/k")]
    assert tick.fired[0].labels == {"rate_limit_key": "k", "process": PROCESS}

    await anyio.sleep(0.35)
    assert idents((await evaluator.tick()).resolved) == [("rate_limit", f"{PROCESS}/k")]


# --- the rules alone ----------------------------------------------------------------------


def signals(**values: object) -> Signals:
    return Signals(now=T0, process=PROCESS, **values)  # type: ignore[arg-type]


def test_long_running_judges_each_execution_against_the_clock() -> None:
    running = [
        RunningExecution(
            id="a", workspace_id="w", name="n", started_at=T0 - timedelta(seconds=600)
        ),
        RunningExecution(
            id="b", workspace_id="w", name="n", started_at=T0 - timedelta(seconds=299)
        ),
    ]
    found = LongRunning(300).evaluate(signals(running=running))
    assert [f.key for f in found] == ["a"]


def test_success_rate_needs_enough_executions_and_a_rate_strictly_under() -> None:
    rule = SuccessRate(0.7, 3600, 10)
    at_minimum = {"w": Outcomes(succeeded=7, failed=3)}
    too_few = {"w": Outcomes(succeeded=0, failed=9)}
    under = {"w": Outcomes(succeeded=6, failed=4)}
    assert rule.evaluate(signals(outcomes=at_minimum)) == []
    assert rule.evaluate(signals(outcomes=too_few)) == []
    assert [f.key for f in rule.evaluate(signals(outcomes=under))] == ["w"]


def test_rate_limit_fires_at_the_fraction_left_and_at_zero() -> None:
    rule = RateLimitNearlyExhausted(0.1)
    quotas = [
        QuotaUsage(key="a", spent=9, size=10),  # 1 left = 10%: fires
        QuotaUsage(key="b", spent=8, size=10),  # 2 left: fine
        QuotaUsage(key="c", spent=5, size=5),  # none left
        QuotaUsage(key="d", spent=12, size=10),  # over (a clock step): none left
    ]
    assert [f.key for f in rule.evaluate(signals(quotas=quotas))] == ["a", "c", "d"]
    only_empty = RateLimitNearlyExhausted(0.0).evaluate(signals(quotas=quotas))
    assert [f.key for f in only_empty] == ["c", "d"]


def test_default_rules_are_the_seed_s_five_less_the_disabled() -> None:
    names = [r.name for r in default_rules(AlertThresholds())]
    assert names == ["long_running", "success_rate", "error_rate", "memory", "rate_limit"]
    fewer = default_rules(AlertThresholds(), disabled=["memory", "rate_limit"])
    assert [r.name for r in fewer] == ["long_running", "success_rate", "error_rate"]
    [memory] = [r for r in default_rules(AlertThresholds()) if r.name == "memory"]
    assert memory.process_local
