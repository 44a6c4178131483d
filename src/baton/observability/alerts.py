# pyright: strict
"""Alerts (seed layer 7): rules evaluated periodically; each alert fires, then resolves.

```python
alerts = build_alerts(settings, store=..., activity=..., rate_limits=limiter,
                      registry=registry, publish=bus.publish_notice)
tg.start_soon(alerts.run)            # every BATON_ALERT_INTERVAL_S, for the server's life
await alerts.check()                 # one tick now (``baton alerts check``)
await alerts.list(visible_to="ws")   # what ``baton alerts`` and ``GET /api/alerts`` show
```

A tick (`AlertEvaluator.tick`) gathers one `Signals` snapshot, asks every rule
(`baton.observability.alerts_rules`) for its findings, and compares them with the alerts
firing in the store (`baton.store.alerts.AlertStore`): a finding without a firing alert
fires one; a firing alert of an evaluated rule without a finding resolves. Each alert this
process fired or resolved is announced to the sinks (`baton.observability.alerts_sinks`): a
log record, metrics and a notice on the workspace streams.

Several processes may evaluate the same store at once. The store keeps one firing alert per
``(rule, key)`` and lets only one caller fire or resolve it, so nothing is announced twice.
Alerts about one process (``memory``, and quotas a process keeps in its memory) carry the
process in their ``process`` label and key: only that process resolves them, or any process
on the same host once it has ended; the others leave them alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import anyio
from prometheus_client import CollectorRegistry

from baton.errors import UsageError
from baton.events import utcnow
from baton.observability.alerts_rules import (
    RULE_NAMES,
    AlertThresholds,
    Finding,
    Rule,
    Signals,
    default_rules,
)
from baton.observability.alerts_signals import (
    EngineSignals,
    RateLimits,
    SignalSource,
    is_dead_here,
    process_memory,
    this_process,
)
from baton.observability.alerts_sinks import (
    AlertSink,
    LogSink,
    MetricsSink,
    NoticePublisher,
    NoticeSink,
    alert_json,
)
from baton.settings import Settings
from baton.store.alerts import Activity, Alert, AlertStore, new_alert_id

__all__ = [
    "RULE_NAMES",
    "AlertEvaluator",
    "AlertThresholds",
    "Alerts",
    "Finding",
    "Rule",
    "Signals",
    "Tick",
    "alert_json",
    "build_alerts",
    "default_rules",
]

logger = logging.getLogger("baton.alerts")

_PRUNE_EVERY = timedelta(hours=1)

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """What one evaluation did."""

    fired: list[Alert] = field(default_factory=list[Alert])
    """Alerts this tick fired."""
    resolved: list[Alert] = field(default_factory=list[Alert])
    """Alerts this tick resolved."""
    firing: list[Alert] = field(default_factory=list[Alert])
    """Every alert firing after it, oldest first."""


class AlertEvaluator:
    """Evaluates the rules against the store's firing alerts; fires and resolves alerts."""

    def __init__(
        self,
        store: AlertStore,
        signals: SignalSource,
        rules: Sequence[Rule],
        *,
        sinks: Sequence[AlertSink] = (),
        clock: Clock = utcnow,
        process: str | None = None,
        retention: timedelta | None = timedelta(days=7),
    ) -> None:
        """Evaluate `rules` over what `signals` gathers, keeping alerts in `store`.

        Args:
            store: Where alerts live (shared by every process on the database).
            signals: Gathers each tick's snapshot.
            rules: The rules (names must be unique).
            sinks: Told of each alert this evaluator fires or resolves.
            clock: The time of a tick (fired and resolved times).
            process: This process, as alerts about one process name it (`this_process`).
            retention: Resolved alerts older than this are forgotten (checked hourly);
                None keeps them.
        """
        names = [r.name for r in rules]
        if len(set(names)) != len(names):
            raise UsageError(f"alert rule names must be unique: {names}")
        self.store = store
        """Where alerts live."""
        self.rules = list(rules)
        """The rules evaluated."""
        self._signals = signals
        self._sinks = list(sinks)
        self._clock = clock
        self.process = process or this_process()
        """This process (``host:pid``)."""
        self._retention = retention
        self._pruned_at: datetime | None = None

    async def tick(self, *, process_rules: bool = True) -> Tick:
        """Evaluate once: fire what holds and is not firing, resolve what cleared.

        Args:
            process_rules: Also evaluate the rules about this process (``memory``); a
                one-off check from a short-lived process passes False.

        Raises:
            StoreError: the store failed (nothing half-announced: a retry is safe).
        """
        now = self._clock()
        signals = await self._signals.gather(now)
        rules = [r for r in self.rules if process_rules or not r.process_local]
        found: dict[tuple[str, str], Alert] = {}
        for rule in rules:
            for finding in rule.evaluate(signals):
                alert = _alert(rule.name, finding, now)
                found.setdefault(alert.ident, alert)
        evaluated = {r.name for r in rules}
        firing = await self.store.firing()
        cleared = [
            a.ident
            for a in firing
            if a.rule in evaluated and a.ident not in found and self._owns(a)
        ]
        resolved = await self.store.resolve(cleared, now)
        already = {a.ident for a in firing}
        fired = await self.store.fire([a for i, a in found.items() if i not in already])
        current = await self.store.firing()
        for alert in resolved:
            self._announce("resolved", alert)
        for alert in fired:
            self._announce("fired", alert)
        for sink in self._sinks:
            try:
                sink.firing_now(current)
            except Exception:
                logger.exception("alert sink %r failed", sink)
        await self._prune(now)
        return Tick(fired=fired, resolved=resolved, firing=current)

    async def run(self, interval_s: float) -> None:
        """Tick every `interval_s` seconds until cancelled; a failed tick is logged and retried."""
        if not interval_s > 0:
            raise UsageError(f"the alert interval must be positive, not {interval_s}")
        while True:
            try:
                await self.tick()
            except Exception:
                logger.exception("alert evaluation failed; trying again in %gs", interval_s)
            await anyio.sleep(interval_s)

    def _owns(self, alert: Alert) -> bool:
        """Whether this evaluator may resolve `alert` when its finding is gone."""
        owner = alert.labels.get("process")
        return owner is None or owner == self.process or is_dead_here(owner)

    def _announce(self, change: str, alert: Alert) -> None:
        for sink in self._sinks:
            try:
                if change == "fired":
                    sink.fired(alert)
                else:
                    sink.resolved(alert)
            except Exception:
                logger.exception("alert sink %r failed on %s %s", sink, change, alert.id)

    async def _prune(self, now: datetime) -> None:
        if self._retention is None:
            return
        if self._pruned_at is not None and now - self._pruned_at < _PRUNE_EVERY:
            return
        self._pruned_at = now
        await self.store.prune(now - self._retention)


def _alert(rule: str, finding: Finding, now: datetime) -> Alert:
    return Alert(
        id=new_alert_id(),
        rule=rule,
        key=finding.key,
        severity=finding.severity,
        message=finding.message,
        workspace_id=finding.workspace_id,
        labels=dict(finding.labels),
        fired_at=now,
    )


@dataclass(slots=True, kw_only=True)
class Alerts:
    """The engine's alerts: the store, the evaluator and how often it runs."""

    store: AlertStore
    """Where alerts live."""
    evaluator: AlertEvaluator
    """Evaluates the rules."""
    interval_s: float = 30.0
    """Seconds between two ticks of `run`."""

    async def list(
        self, *, include_resolved: bool = False, visible_to: str | None = None, limit: int = 100
    ) -> list[Alert]:
        """Alerts, newest first (see `AlertStore.list`)."""
        return await self.store.list(
            include_resolved=include_resolved, visible_to=visible_to, limit=limit
        )

    async def check(self, *, process_rules: bool = True) -> Tick:
        """Evaluate the rules once, now."""
        return await self.evaluator.tick(process_rules=process_rules)

    async def run(self) -> None:
        """Evaluate every `interval_s` seconds until cancelled (in the server's task group)."""
        await self.evaluator.run(self.interval_s)


def build_alerts(
    settings: Settings,
    *,
    store: AlertStore,
    activity: Activity,
    rate_limits: RateLimits | None = None,
    registry: CollectorRegistry | None = None,
    publish: NoticePublisher | None = None,
    extra_sinks: Collection[AlertSink] = (),
    clock: Clock = utcnow,
) -> Alerts:
    """The engine's alerts, configured by ``BATON_ALERT_*``.

    Args:
        settings: Thresholds, disabled rules, interval and retention.
        store: Where alerts live (`MemoryAlertStore`, or `baton.store.sql.alerts.SqlAlertStore`).
        activity: What the rules read from the executions (`StoreActivity` over the memory
            store, or `baton.store.sql.alerts.SqlActivity`).
        rate_limits: The engine's `RateLimiter`; None: quotas are not watched.
        registry: A prometheus registry to put the alert metrics on; None: no metrics.
        publish: ``EventBus.publish_notice``; None: alerts do not reach the streams.
        extra_sinks: More sinks (after the log, metrics and notices).
        clock: The time (tests).
    """
    thresholds = AlertThresholds.from_settings(settings)
    rules = default_rules(thresholds, disabled=settings.alert_disabled)
    sinks: list[AlertSink] = [LogSink()]
    if registry is not None:
        sinks.append(MetricsSink(registry, [r.name for r in rules]))
    if publish is not None:
        sinks.append(NoticeSink(publish))
    sinks.extend(extra_sinks)
    process = this_process()
    signals = EngineSignals(
        activity, thresholds, rate_limits=rate_limits, memory=process_memory, process=process
    )
    evaluator = AlertEvaluator(
        store,
        signals,
        rules,
        sinks=sinks,
        clock=clock,
        process=process,
        retention=timedelta(days=settings.alert_retention_days),
    )
    return Alerts(store=store, evaluator=evaluator, interval_s=settings.alert_interval_s)
