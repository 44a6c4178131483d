"""Where alerts are announced: a log record, two metrics, and a notice on workspace streams."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import anyio
import pytest
from prometheus_client import CollectorRegistry

from baton.observability.alerts import AlertEvaluator
from baton.observability.alerts_rules import LongRunning, Signals
from baton.observability.alerts_sinks import (
    LogSink,
    MetricsSink,
    NoticeSink,
    alert_json,
)
from baton.store.alerts import Alert, MemoryAlertStore, RunningExecution, Severity
from baton.streaming.bus import HEARTBEAT, EventBus, Notice
from baton.streaming.sse import encode_workspace
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def alert(rule: str = "long_running", workspace_id: str | None = "ws1", **kw: object) -> Alert:
    values: dict[str, object] = {
        "id": "al_1",
        "rule": rule,
        "key": "ex_1",
        "severity": Severity.WARNING,
        "message": "execution ex_1 has been running for 6m",
        "workspace_id": workspace_id,
        "labels": {"execution_id": "ex_1"},
        "fired_at": T0,
    }
    return Alert(**{**values, **kw})  # type: ignore[arg-type]


def test_the_log_sink_writes_warning_on_fire_and_info_on_resolve(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = LogSink()
    with caplog.at_level(logging.INFO, logger="baton.alerts"):
        sink.fired(alert())
        sink.resolved(alert(resolved_at=T0 + timedelta(minutes=1)))

    fired, resolved = caplog.records
    assert (fired.name, fired.levelno) == ("baton.alerts", logging.WARNING)
    assert fired.getMessage() == (
        "alert long_running fired (warning): execution ex_1 has been running for 6m"
    )
    assert fired.__dict__["alert_id"] == "al_1"
    assert fired.__dict__["alert_rule"] == "long_running"
    assert fired.__dict__["workspace_id"] == "ws1"
    assert (resolved.levelno, resolved.getMessage()) == (
        logging.INFO,
        "alert long_running resolved: ex_1 (fired at 2026-03-09T09:00:00+00:00)",
    )


def test_the_metrics_sink_counts_fires_and_gauges_what_is_firing() -> None:
    registry = CollectorRegistry()
    sink = MetricsSink(registry, ["long_running", "memory"])

    def value(name: str, rule: str) -> float | None:
        return registry.get_sample_value(name, {"rule": rule})

    assert value("baton_alerts_firing", "memory") == 0
    assert value("baton_alerts_fired_total", "memory") == 0

    sink.fired(alert())
    sink.fired(alert(id="al_2", key="ex_2"))
    sink.firing_now([alert(), alert(id="al_2", key="ex_2"), alert(rule="custom")])
    assert value("baton_alerts_fired_total", "long_running") == 2
    assert value("baton_alerts_firing", "long_running") == 2
    assert value("baton_alerts_firing", "custom") == 1
    assert value("baton_alerts_firing", "memory") == 0

    sink.firing_now([])
    assert value("baton_alerts_firing", "long_running") == 0
    assert value("baton_alerts_fired_total", "long_running") == 2
    with pytest.raises(ValueError, match="Duplicated"):
        MetricsSink(registry)


async def test_notices_reach_their_workspace_s_streams_and_service_wide_ones_reach_all() -> None:
    bus = EventBus(heartbeat_s=0.05)
    sink = NoticeSink(bus.publish_notice)
    async with bus.subscribe_workspace("ws1") as ws1, bus.subscribe_workspace("ws2") as ws2:
        sink.fired(alert(workspace_id="ws1"))
        sink.fired(alert(rule="memory", workspace_id=None, key="host:1", id="al_9"))
        with anyio.fail_after(1):
            first, second = await ws1.__anext__(), await ws1.__anext__()
            only = await ws2.__anext__()
            assert await ws2.__anext__() is HEARTBEAT  # ws1's alert never reaches ws2

    assert isinstance(first, Notice)
    assert (first.kind, first.data["id"], first.data["workspace_id"]) == (
        "alert_fired",
        "al_1",
        "ws1",
    )
    assert isinstance(second, Notice)
    assert isinstance(only, Notice)
    assert second.data["id"] == only.data["id"] == "al_9"
    assert bus.subscribers == 0


def test_a_notice_is_encoded_as_its_kind_and_json_without_an_id() -> None:
    fields = encode_workspace(Notice("alert_resolved", alert_json(alert(resolved_at=T0))))

    assert set(fields) == {"event", "data"}
    assert fields["event"] == "alert_resolved"
    data = json.loads(fields["data"])
    assert data["resolved_at"] == "2026-03-09T09:00:00+00:00"
    assert data["firing"] is False


async def test_a_slow_workspace_stream_is_dropped_by_notices_too() -> None:
    bus = EventBus(max_queue=16)
    async with bus.subscribe_workspace("ws1") as sub:
        for i in range(17):
            bus.publish_notice("ws1", "alert_fired", {"n": i})
        assert sub.dropped
    assert bus.dropped_total == 1
    bus.publish_notice(None, "alert_fired", {})  # nobody listening: nothing happens
    bus.publish_notice("nobody", "alert_fired", {})


async def test_an_evaluated_alert_streams_fired_then_resolved() -> None:
    bus = EventBus(heartbeat_s=5)
    clock = FakeClock(T0)
    running = [RunningExecution(id="ex_1", workspace_id="ws1", name="n", started_at=T0)]

    class Source:
        async def gather(self, now: datetime) -> Signals:
            return Signals(now=now, running=running)

    ev = AlertEvaluator(
        MemoryAlertStore(),
        Source(),
        [LongRunning(300)],
        sinks=[NoticeSink(bus.publish_notice)],
        clock=clock,
    )
    async with bus.subscribe_workspace("ws1") as sub:
        clock.advance(301)
        await ev.tick()
        running.clear()
        await ev.tick()
        with anyio.fail_after(1):
            items = [await sub.__anext__(), await sub.__anext__()]

    kinds = [(i.kind, i.data["key"]) for i in items if isinstance(i, Notice)]
    assert kinds == [("alert_fired", "ex_1"), ("alert_resolved", "ex_1")]
