# pyright: strict
"""Where a firing or resolved alert is announced: a log record, metrics, a stream notice.

The evaluator calls every sink once for each alert it fired or resolved itself (an alert
another process fired first is announced by that process), and with the whole list of
firing alerts after each tick. A sink must not raise; the evaluator logs any that does and
goes on.

- `LogSink`: a record on the ``baton.alerts`` logger, WARNING when an alert fires and INFO
  when it resolves, with the alert's fields as ``extra`` (``alert_id``, ``alert_rule``...)
  for the log aggregator.
- `MetricsSink`: on a prometheus ``CollectorRegistry``, the gauge ``baton_alerts_firing``
  (per rule: alerts firing now, in the whole store) and the counter
  ``baton_alerts_fired_total`` (per rule: alerts this process fired).
- `NoticeSink`: a notice ``alert_fired`` / ``alert_resolved`` with the alert as JSON data, for
  the workspace streams (the alert's workspace's, or every one for a service-wide alert),
  through a callback: `baton.streaming.bus.EventBus.publish_notice` in the engine.
"""

from __future__ import annotations

import logging
from collections import Counter as Tally
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from baton.store.alerts import Alert

__all__ = [
    "ALERT_FIRED",
    "ALERT_RESOLVED",
    "LOGGER_NAME",
    "AlertSink",
    "LogSink",
    "MetricsSink",
    "NoticePublisher",
    "NoticeSink",
    "alert_json",
]

LOGGER_NAME = "baton.alerts"
"""The logger alerts are written to."""

ALERT_FIRED = "alert_fired"
"""Notice kind (SSE event) of a fired alert."""
ALERT_RESOLVED = "alert_resolved"
"""Notice kind (SSE event) of a resolved alert."""

NoticePublisher = Callable[[str | None, str, Mapping[str, Any]], None]
"""``publish(workspace_id, kind, data)``: hands a notice to the workspace streams (None:
every workspace's); must not wait."""


def alert_json(alert: Alert) -> dict[str, Any]:
    """An alert as JSON-compatible data (the notices', the CLI's ``--json`` and the API's)."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "key": alert.key,
        "severity": alert.severity.value,
        "message": alert.message,
        "workspace_id": alert.workspace_id,
        "labels": dict(alert.labels),
        "fired_at": alert.fired_at.isoformat(),
        "resolved_at": None if alert.resolved_at is None else alert.resolved_at.isoformat(),
        "firing": alert.firing,
    }


class AlertSink(Protocol):
    """Something told about alerts."""

    def fired(self, alert: Alert) -> None:
        """`alert` fired (this process stored it)."""
        ...

    def resolved(self, alert: Alert) -> None:
        """`alert` resolved (this process resolved it)."""
        ...

    def firing_now(self, alerts: Sequence[Alert]) -> None:
        """After a tick: every alert firing now (of every process)."""
        ...


def _extra(alert: Alert) -> dict[str, Any]:
    return {
        "alert_id": alert.id,
        "alert_rule": alert.rule,
        "alert_key": alert.key,
        "alert_severity": alert.severity.value,
        "alert_labels": dict(alert.labels),
        "workspace_id": alert.workspace_id,
    }


class LogSink:
    """Writes a record to the ``baton.alerts`` logger per alert fired or resolved."""

    def __init__(self, logger: logging.Logger | None = None) -> None:
        """Write to `logger` (default: ``baton.alerts``)."""
        self.logger = logger or logging.getLogger(LOGGER_NAME)
        """Where the records go."""

    def fired(self, alert: Alert) -> None:
        """WARNING: the alert and its message."""
        self.logger.warning(
            "alert %s fired (%s): %s",
            alert.rule,
            alert.severity.value,
            alert.message,
            extra=_extra(alert),
        )

    def resolved(self, alert: Alert) -> None:
        """INFO: the alert resolved."""
        self.logger.info(
            "alert %s resolved: %s (fired at %s)",
            alert.rule,
            alert.key,
            alert.fired_at.isoformat(timespec="seconds"),
            extra=_extra(alert),
        )

    def firing_now(self, alerts: Sequence[Alert]) -> None:
        """Nothing: each change was logged."""


class MetricsSink:
    """``baton_alerts_firing{rule}`` and ``baton_alerts_fired_total{rule}`` on a registry."""

    def __init__(self, registry: CollectorRegistry, rules: Iterable[str] = ()) -> None:
        """Register the two metrics on `registry`, with a zero series for each of `rules`.

        Raises:
            ValueError: `registry` has these metrics already (one sink per registry).
        """
        self.firing = Gauge(
            "baton_alerts_firing",
            "Alerts firing now, per rule (in the whole store, not only this process's).",
            ["rule"],
            registry=registry,
        )
        """The gauge of firing alerts."""
        self.fired_total = Counter(
            "baton_alerts_fired_total",
            "Alerts fired by this process, per rule.",
            ["rule"],
            registry=registry,
        )
        """The counter of fired alerts."""
        self._rules = set(rules)
        for rule in self._rules:
            self.firing.labels(rule=rule).set(0)
            self.fired_total.labels(rule=rule)

    def fired(self, alert: Alert) -> None:
        """Count it."""
        self._rules.add(alert.rule)
        self.fired_total.labels(rule=alert.rule).inc()

    def resolved(self, alert: Alert) -> None:
        """Nothing: the gauge is set from the whole list after the tick."""

    def firing_now(self, alerts: Sequence[Alert]) -> None:
        """Set the gauge of every rule known (0 for those with none firing)."""
        counts = Tally(a.rule for a in alerts)
        self._rules.update(counts)
        for rule in self._rules:
            self.firing.labels(rule=rule).set(counts.get(rule, 0))


class NoticeSink:
    """Publishes ``alert_fired`` / ``alert_resolved`` notices to the workspace streams."""

    def __init__(self, publish: NoticePublisher) -> None:
        """Publish through `publish` (e.g. ``EventBus.publish_notice``)."""
        self._publish = publish

    def fired(self, alert: Alert) -> None:
        """Notice ``alert_fired`` to the alert's workspace (every workspace if service-wide)."""
        self._publish(alert.workspace_id, ALERT_FIRED, alert_json(alert))

    def resolved(self, alert: Alert) -> None:
        """Notice ``alert_resolved`` to the same streams."""
        self._publish(alert.workspace_id, ALERT_RESOLVED, alert_json(alert))

    def firing_now(self, alerts: Sequence[Alert]) -> None:
        """Nothing: streams carry changes only."""
