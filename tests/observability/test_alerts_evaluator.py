"""The alert evaluator: no duplicates across processes, who resolves what, failures, the loop."""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest
from prometheus_client import CollectorRegistry

from baton.errors import ConfigError, StoreError, UsageError
from baton.observability.alerts import AlertEvaluator, build_alerts
from baton.observability.alerts_rules import (
    AlertThresholds,
    ErrorRate,
    MemoryPressure,
    MemoryUsage,
    Rule,
    Signals,
)
from baton.observability.alerts_signals import this_process
from baton.settings import Settings
from baton.store.alerts import (
    Alert,
    AlertStore,
    MemoryAlertStore,
    Severity,
    StoreActivity,
    new_alert_id,
)
from baton.store.memory import MemoryExecutionStore
from baton.store.sql.alerts import SqlAlertStore
from baton.store.sql.database import Database, open_database
from baton.store.sql.schema import create_schema
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
HIGH = MemoryUsage(rss_bytes=90, limit_bytes=100)
LOW = MemoryUsage(rss_bytes=10, limit_bytes=100)


@dataclass
class FakeSignals:
    """A `SignalSource` a test sets by hand; it can fail on demand."""

    step_errors: int = 0
    memory: MemoryUsage | None = None
    process: str = "host-a:1"
    failures: int = 0
    gathered: int = 0
    fourth: anyio.Event = field(default_factory=anyio.Event)

    async def gather(self, now: datetime) -> Signals:
        self.gathered += 1
        if self.gathered == 4:
            self.fourth.set()
        if self.failures:
            self.failures -= 1
            raise StoreError("the database is down", retryable=True)
        return Signals(
            now=now, process=self.process, step_errors=self.step_errors, memory=self.memory
        )


@dataclass
class Recorder:
    """A sink that remembers what it was told."""

    fired_ids: list[str] = field(default_factory=list[str])
    resolved_ids: list[str] = field(default_factory=list[str])
    snapshots: list[int] = field(default_factory=list[int])

    def fired(self, alert: Alert) -> None:
        self.fired_ids.append(alert.id)

    def resolved(self, alert: Alert) -> None:
        self.resolved_ids.append(alert.id)

    def firing_now(self, alerts: list[Alert]) -> None:
        self.snapshots.append(len(alerts))


class Broken:
    def fired(self, alert: Alert) -> None:
        raise RuntimeError("sink down")

    def resolved(self, alert: Alert) -> None:
        raise RuntimeError("sink down")

    def firing_now(self, alerts: list[Alert]) -> None:
        raise RuntimeError("sink down")


RULES: list[Rule] = [ErrorRate(10), MemoryPressure(0.8)]


def evaluator(
    store: AlertStore,
    signals: FakeSignals,
    *,
    sinks: list[object] | None = None,
    clock: FakeClock | None = None,
    rules: list[Rule] | None = None,
) -> AlertEvaluator:
    return AlertEvaluator(
        store,
        signals,
        RULES if rules is None else rules,
        sinks=sinks or [],  # type: ignore[arg-type]
        clock=clock or FakeClock(T0),
        process=signals.process,
    )


@pytest.fixture
async def two_databases(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two connections to one database, as two processes would have."""
    first, second = open_database(database_url), open_database(database_url)
    try:
        await create_schema(first)
        yield first, second
    finally:
        await first.dispose()
        await second.dispose()


async def test_two_evaluators_on_one_database_fire_and_resolve_each_alert_once(
    two_databases: tuple[Database, Database],
) -> None:
    signals = [FakeSignals(step_errors=50, process=f"host-{i}:1") for i in range(2)]
    recorders = [Recorder(), Recorder()]
    evaluators = [
        evaluator(SqlAlertStore(db), s, sinks=[r])
        for db, s, r in zip(two_databases, signals, recorders, strict=True)
    ]

    async def rounds(ev: AlertEvaluator) -> None:
        for _ in range(5):
            await ev.tick()

    async with anyio.create_task_group() as tg:
        for ev in evaluators:
            tg.start_soon(rounds, ev)

    firing = await SqlAlertStore(two_databases[0]).list(include_resolved=True)
    assert [a.ident for a in firing] == [("error_rate", "all")]
    assert sorted(recorders[0].fired_ids + recorders[1].fired_ids) == [firing[0].id]

    for s in signals:
        s.step_errors = 0
    async with anyio.create_task_group() as tg:
        for ev in evaluators:
            tg.start_soon(rounds, ev)

    history = await SqlAlertStore(two_databases[1]).list(include_resolved=True)
    assert [(a.id, a.firing) for a in history] == [(firing[0].id, False)]
    assert recorders[0].resolved_ids + recorders[1].resolved_ids == [firing[0].id]


async def test_a_process_s_alert_is_resolved_by_it_not_by_another_live_one() -> None:
    store = MemoryAlertStore()
    a = FakeSignals(memory=HIGH, process="host-a:1")
    b = FakeSignals(memory=LOW, process="host-b:1")

    fired = (await evaluator(store, a).tick()).fired
    assert [x.ident for x in fired] == [("memory", "host-a:1")]

    # b's memory is fine: b has nothing of its own to fire, and a's alert is a's.
    tick_b = await evaluator(store, b).tick()
    assert (tick_b.fired, tick_b.resolved) == ([], [])
    assert [x.ident for x in tick_b.firing] == [("memory", "host-a:1")]

    a.memory = LOW
    assert [x.ident for x in (await evaluator(store, a).tick()).resolved] == [
        ("memory", "host-a:1")
    ]


async def test_an_alert_of_a_process_that_ended_on_this_host_is_resolved() -> None:
    ended = await anyio.run_process([sys.executable, "-c", "import os; print(os.getpid())"])
    host = this_process().rpartition(":")[0]
    dead = f"{host}:{int(ended.stdout)}"
    store = MemoryAlertStore()
    await evaluator(store, FakeSignals(memory=HIGH, process="elsewhere:1")).tick()
    await evaluator(store, FakeSignals(memory=HIGH, process=dead)).tick()

    tick = await evaluator(store, FakeSignals(memory=LOW, process=this_process())).tick()

    assert [x.ident for x in tick.resolved] == [("memory", dead)]
    assert [x.ident for x in tick.firing] == [("memory", "elsewhere:1")]


async def test_a_check_without_process_rules_leaves_their_alerts_alone() -> None:
    store = MemoryAlertStore()
    signals = FakeSignals(memory=HIGH, step_errors=50)
    await evaluator(store, signals).tick()
    signals.memory = LOW
    signals.step_errors = 0

    tick = await evaluator(store, signals).tick(process_rules=False)

    assert [x.ident for x in tick.resolved] == [("error_rate", "all")]
    assert [x.ident for x in tick.firing] == [("memory", "host-a:1")]


async def test_alerts_of_rules_not_evaluated_are_left_alone() -> None:
    store = MemoryAlertStore()
    other = Alert(
        id=new_alert_id(),
        rule="custom",
        key="k",
        severity=Severity.WARNING,
        message="from another evaluator",
        fired_at=T0,
    )
    await store.fire([other])

    tick = await evaluator(store, FakeSignals()).tick()

    assert [x.id for x in tick.firing] == [other.id]


async def test_a_failing_sink_does_not_stop_the_others(caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    ev = evaluator(MemoryAlertStore(), FakeSignals(step_errors=50), sinks=[Broken(), recorder])

    with caplog.at_level(logging.ERROR, logger="baton.alerts"):
        tick = await ev.tick()

    assert recorder.fired_ids == [tick.fired[0].id]
    assert recorder.snapshots == [1]
    assert any("alert sink" in r.getMessage() for r in caplog.records)


async def test_run_ticks_until_cancelled_and_survives_a_failed_tick(
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = MemoryAlertStore()
    signals = FakeSignals(step_errors=50, failures=1)
    recorder = Recorder()
    ev = evaluator(store, signals, sinks=[recorder])

    with caplog.at_level(logging.ERROR, logger="baton.alerts"):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ev.run, 0.01)
            with anyio.fail_after(5):
                await signals.fourth.wait()
            tg.cancel_scope.cancel()

    assert len(recorder.fired_ids) == 1  # fired once, then kept firing
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR] == [
        "alert evaluation failed; trying again in 0.01s"
    ]
    with pytest.raises(UsageError):
        await ev.run(0)


async def test_resolved_alerts_past_the_retention_are_pruned_hourly() -> None:
    store = MemoryAlertStore()
    clock = FakeClock(T0)
    signals = FakeSignals(step_errors=50)
    ev = AlertEvaluator(store, signals, RULES, clock=clock, retention=timedelta(days=1))
    await ev.tick()
    signals.step_errors = 0
    clock.advance(60)
    await ev.tick()
    assert len(await store.list(include_resolved=True)) == 1

    clock.advance(86_401)  # resolved over a day ago, and over an hour since the last prune
    await ev.tick()

    assert await store.list(include_resolved=True) == []


def test_rule_names_must_be_unique() -> None:
    with pytest.raises(UsageError, match="unique"):
        AlertEvaluator(MemoryAlertStore(), FakeSignals(), [ErrorRate(1), ErrorRate(2)])


async def test_build_alerts_follows_the_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        alert_disabled=["memory", "rate_limit"],
        alert_errors_per_minute=3,
        alert_interval_s=7,
        _env_file=None,  # type: ignore[call-arg]
    )
    registry = CollectorRegistry()
    published: list[tuple[str | None, str]] = []
    executions = MemoryExecutionStore()
    alerts = build_alerts(
        settings,
        store=MemoryAlertStore(),
        activity=StoreActivity(executions),
        registry=registry,
        publish=lambda ws, kind, data: published.append((ws, kind)),
    )

    assert alerts.interval_s == 7
    assert [r.name for r in alerts.evaluator.rules] == [
        "long_running",
        "success_rate",
        "error_rate",
    ]
    [error_rate] = [r for r in alerts.evaluator.rules if isinstance(r, ErrorRate)]
    assert error_rate.per_minute == 3
    assert registry.get_sample_value("baton_alerts_firing", {"rule": "error_rate"}) == 0
    assert registry.get_sample_value("baton_alerts_firing", {"rule": "memory"}) is None
    tick = await alerts.check()
    assert (tick.fired, published) == ([], [])


def test_thresholds_and_settings_are_validated(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="memory_fraction"):
        AlertThresholds(memory_fraction=1.5)
    with pytest.raises(ConfigError, match="long_running_s"):
        AlertThresholds(long_running_s=0)
    with pytest.raises(ConfigError, match="success_rate_min"):
        AlertThresholds(success_rate_min=-0.1)
    for bad in (
        {"alert_memory_fraction": 0},
        {"alert_success_rate_min": 2},
        {"alert_interval_s": 0},
        {"alert_disabled": ["no_such_rule"]},
        {"alert_rate_limit_remaining_fraction": 1},
    ):
        with pytest.raises(ValueError, match="alert_"):
            Settings(data_dir=tmp_path, _env_file=None, **bad)  # type: ignore[call-arg]
    assert AlertThresholds.from_settings(Settings(_env_file=None)) == AlertThresholds()  # type: ignore[call-arg]
