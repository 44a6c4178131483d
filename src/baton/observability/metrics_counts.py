"""Plain-number counts of executions and steps, and their exposition as metric families.

`MetricsInterceptor` updates these on the executor's hot path, so they are plain Python
numbers, about a microsecond per step: a ``prometheus_client`` child takes a lock on every
``inc`` and ``observe``, which measured several times that inside a run. They become metric
families only when scraped (`Counts.families`). Counting and scraping both happen on the
event loop's thread, so nothing needs a lock.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Sequence

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)

from baton.errors import ErrorClass
from baton.events import ExecutionStatus
from baton.observability.metrics_instruments import EXECUTION_BUCKETS, STEP_BUCKETS

__all__ = ["FINAL_EXECUTION", "UNKNOWN_AGENT", "AgentCounts", "Counts", "PlainHistogram"]

UNKNOWN_AGENT = "unknown"
"""The agent label of a step never seen starting (skipped, or refused at its gate)."""

FINAL_EXECUTION = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
"""The statuses an execution finishes in."""

_CLASSES = tuple(c.value for c in ErrorClass)
_RUNGS = ("alternative", "ask", "fail")


class PlainHistogram:
    """Counts per bucket (not cumulative: one increment per observation) and the sum."""

    __slots__ = ("bounds", "counts", "les", "total")

    def __init__(self, bounds: Sequence[float]) -> None:
        self.bounds = bounds
        self.les = (*map(str, bounds), "+Inf")
        self.counts = [0] * len(self.les)  # the last one is +Inf
        self.total = 0.0

    def observe(self, value: float) -> None:
        """Count one observation of `value`."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.total += value

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative ``(le, count)`` pairs, +Inf last, as the exposition wants them."""
        out: list[tuple[str, float]] = []
        running = 0
        for bound, count in zip(self.les, self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out


class AgentCounts:
    """Everything counted about one agent's steps."""

    __slots__ = (
        "cancelled",
        "errors",
        "failed",
        "failed_s",
        "name",
        "retries",
        "skipped",
        "started",
        "succeeded",
        "succeeded_s",
    )

    def __init__(self, name: str = UNKNOWN_AGENT) -> None:
        self.name = name
        """The agent's name (its label)."""
        self.started = 0
        self.succeeded = 0
        self.failed = 0
        self.skipped = 0
        self.cancelled = 0
        self.retries = 0
        self.errors = dict.fromkeys(_CLASSES, 0)
        self.succeeded_s = PlainHistogram(STEP_BUCKETS)
        self.failed_s = PlainHistogram(STEP_BUCKETS)

    def error(self, error_class: str) -> None:
        """Count one failed attempt of class `error_class`."""
        self.errors[error_class] = self.errors.get(error_class, 0) + 1


class Counts:
    """Every count of executions and steps since the process started."""

    def __init__(self) -> None:
        """Start from zero."""
        self.agents: dict[str, AgentCounts] = {}
        """By agent name."""
        self.unknown = self.agent(UNKNOWN_AGENT)
        """Steps whose agent was never seen (see `UNKNOWN_AGENT`)."""
        self.started = 0
        """Runs of executions started."""
        self.in_progress = 0
        """Executions running in this process now."""
        self.approvals = 0
        """Approvals requested."""
        self.finished = dict.fromkeys(FINAL_EXECUTION, 0)
        """Executions finished, by status."""
        self.durations = {s: PlainHistogram(EXECUTION_BUCKETS) for s in FINAL_EXECUTION}
        """Execution durations, by final status."""
        self.recoveries = {(r, c): 0 for r in _RUNGS for c in _CLASSES}
        """Recovery rungs taken, by rung and error class."""

    def agent(self, name: str) -> AgentCounts:
        """The counts of agent `name` (made on first use)."""
        found = self.agents.get(name)
        if found is None:
            found = self.agents[name] = AgentCounts(name)
        return found

    def success_ratio(self) -> float:
        """Succeeded / finished executions; NaN before the first."""
        finished = sum(self.finished.values())
        return self.finished[ExecutionStatus.SUCCEEDED] / finished if finished else math.nan

    def families(self) -> list[Metric]:
        """Every family of executions and steps, as of now."""
        return [*self._execution_families(), *self._step_families()]

    def _execution_families(self) -> list[Metric]:
        started = CounterMetricFamily(
            "baton_executions_started",
            "Runs of executions started (a resumed execution counts again).",
            value=self.started,
        )
        finished = CounterMetricFamily(
            "baton_executions_finished",
            "Executions that reached a final status, by status.",
            labels=["status"],
        )
        durations = HistogramMetricFamily(
            "baton_execution_duration_seconds",
            "Wall time of an execution's run, from its start to its final status.",
            labels=["status"],
        )
        for status in FINAL_EXECUTION:
            finished.add_metric([status.value], self.finished[status])
            hist = self.durations[status]
            durations.add_metric([status.value], hist.buckets(), hist.total)
        return [
            started,
            finished,
            GaugeMetricFamily(
                "baton_executions_in_progress",
                "Executions this process is running now.",
                value=self.in_progress,
            ),
            GaugeMetricFamily(
                "baton_execution_success_ratio",
                "Succeeded / finished executions since this process started (NaN before the "
                "first); over a window, divide rates of baton_executions_finished_total.",
                value=self.success_ratio(),
            ),
            durations,
            CounterMetricFamily(
                "baton_approvals_requested",
                "Steps that stopped to wait for a person's approval.",
                value=self.approvals,
            ),
        ]

    def _step_families(self) -> list[Metric]:
        started = CounterMetricFamily(
            "baton_steps_started", "Attempts of steps started, by agent.", labels=["agent"]
        )
        finished = CounterMetricFamily(
            "baton_steps_finished",
            "Steps that reached a final status, by agent and status (agent is 'unknown' "
            "for steps that never started in this process, e.g. skipped ones).",
            labels=["agent", "status"],
        )
        durations = HistogramMetricFamily(
            "baton_step_duration_seconds",
            "Wall time of a step's last attempt, by agent and final status.",
            labels=["agent", "status"],
        )
        retries = CounterMetricFamily(
            "baton_step_retries",
            "Failed attempts that the same agent will try again, by agent.",
            labels=["agent"],
        )
        errors = CounterMetricFamily(
            "baton_step_errors",
            "Failed attempts of steps, by agent and error class "
            "(rate_limited, timeout, transient, invalid_input, permission, permanent).",
            labels=["agent", "error_class"],
        )
        for name, a in self.agents.items():
            started.add_metric([name], a.started)
            for status, count in (
                ("succeeded", a.succeeded),
                ("failed", a.failed),
                ("skipped", a.skipped),
                ("cancelled", a.cancelled),
            ):
                finished.add_metric([name, status], count)
            durations.add_metric([name, "succeeded"], a.succeeded_s.buckets(), a.succeeded_s.total)
            durations.add_metric([name, "failed"], a.failed_s.buckets(), a.failed_s.total)
            retries.add_metric([name], a.retries)
            for error_class, count in a.errors.items():
                errors.add_metric([name, error_class], count)
        recoveries = CounterMetricFamily(
            "baton_step_recoveries",
            "Rungs of the recovery ladder taken past a plain retry, by rung and error class.",
            labels=["rung", "error_class"],
        )
        for (rung, error_class), count in self.recoveries.items():
            recoveries.add_metric([rung, error_class], count)
        return [started, finished, durations, retries, errors, recoveries]
