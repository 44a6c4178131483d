# pyright: strict
"""The alert rules: pure functions of a `Signals` snapshot, with their thresholds.

Each tick the evaluator (`baton.observability.alerts`) gathers one `Signals` snapshot and
asks every rule for its `Finding`s: the conditions that hold now, each under a key that is
unique within the rule (an execution id, a workspace id, a process). A finding that was not
firing fires; a firing alert whose finding is gone resolves. Rules read nothing else and
keep no state, so a test drives one by building `Signals` by hand.

The seed's rules:

=================  ============================================================  ==========
rule               fires when                                                    key
=================  ============================================================  ==========
``long_running``   an execution has been running longer than 5 minutes           execution
``success_rate``   under 70% of a workspace's executions finished in the last     workspace
                   hour succeeded (once at least 10 finished)
``error_rate``     more than 10 step attempts failed in the last minute          ``all``
``memory``         the process uses over 80% of its memory limit                 process
``rate_limit``     a rate-limit key has at most 10% of its quota left            key
=================  ============================================================  ==========

Thresholds are `AlertThresholds` (from ``BATON_ALERT_*`` settings).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from baton.errors import ConfigError
from baton.settings import Settings
from baton.store.alerts import Outcomes, RunningExecution, Severity

__all__ = [
    "ERROR_WINDOW_S",
    "RULE_NAMES",
    "AlertThresholds",
    "ErrorRate",
    "Finding",
    "LongRunning",
    "MemoryPressure",
    "MemoryUsage",
    "QuotaUsage",
    "RateLimitNearlyExhausted",
    "Rule",
    "Signals",
    "SuccessRate",
    "default_rules",
]

ERROR_WINDOW_S = 60.0
"""The window of the ``error_rate`` rule: one minute."""

RULE_NAMES = ("long_running", "success_rate", "error_rate", "memory", "rate_limit")
"""Names of the seed's rules, in the order they are evaluated."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AlertThresholds:
    """When each rule fires (defaults: the seed's)."""

    long_running_s: float = 300.0
    """An execution running longer than this fires ``long_running``."""
    success_rate_min: float = 0.7
    """A workspace whose success rate is under this fires ``success_rate``."""
    success_window_s: float = 3600.0
    """The window the success rate is measured over."""
    success_min_executions: int = 10
    """Finished executions needed in the window before the rate is judged."""
    errors_per_minute: int = 10
    """More failed step attempts than this in a minute fires ``error_rate``."""
    memory_fraction: float = 0.8
    """Memory use over this share of the limit fires ``memory``."""
    rate_limit_remaining_fraction: float = 0.1
    """A quota with at most this share left fires ``rate_limit``."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        for name in ("long_running_s", "success_window_s"):
            value: float = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                problems.append(f"{name} must be a positive number of seconds, not {value}")
        if not 0 <= self.success_rate_min <= 1:
            problems.append(f"success_rate_min must be within 0..1, not {self.success_rate_min}")
        if self.success_min_executions < 1:
            problems.append(
                f"success_min_executions must be at least 1, not {self.success_min_executions}"
            )
        if self.errors_per_minute < 0:
            problems.append(f"errors_per_minute must be 0 or more, not {self.errors_per_minute}")
        if not 0 < self.memory_fraction <= 1:
            problems.append(f"memory_fraction must be within (0, 1], not {self.memory_fraction}")
        if not 0 <= self.rate_limit_remaining_fraction < 1:
            problems.append(
                "rate_limit_remaining_fraction must be within [0, 1), not "
                f"{self.rate_limit_remaining_fraction}"
            )
        if problems:
            raise ConfigError(f"invalid alert thresholds: {'; '.join(problems)}")

    @classmethod
    def from_settings(cls, settings: Settings) -> AlertThresholds:
        """The thresholds of ``BATON_ALERT_*``."""
        return cls(
            long_running_s=settings.alert_long_running_s,
            success_rate_min=settings.alert_success_rate_min,
            success_window_s=settings.alert_success_window_s,
            success_min_executions=settings.alert_success_min_executions,
            errors_per_minute=settings.alert_errors_per_minute,
            memory_fraction=settings.alert_memory_fraction,
            rate_limit_remaining_fraction=settings.alert_rate_limit_remaining_fraction,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoryUsage:
    """How much memory the process uses, against its limit."""

    rss_bytes: int
    """Resident set size of the process."""
    limit_bytes: int
    """Its limit: the cgroup's memory limit when one is set, else the machine's RAM."""
    source: str = "ram"
    """Where the limit comes from: ``cgroup`` or ``ram``."""

    @property
    def fraction(self) -> float:
        """Share of the limit in use."""
        return self.rss_bytes / self.limit_bytes if self.limit_bytes > 0 else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class QuotaUsage:
    """How much of a rate-limit key's quota its current window has spent."""

    key: str
    """The rate-limit key (``http:api.example.com``)."""
    spent: int
    """Calls admitted in the current window."""
    size: int
    """Calls the window admits."""
    process: str | None = None
    """The process whose quota it is (kept in its memory); None: shared through the
    database by every process."""

    @property
    def remaining(self) -> int:
        """Calls the window still admits."""
        return max(self.size - self.spent, 0)


@dataclass(frozen=True, slots=True, kw_only=True)
class Signals:
    """What the rules look at, gathered once per tick."""

    now: datetime
    """When they were gathered."""
    process: str = ""
    """The process that gathered them (``host:pid``)."""
    running: Sequence[RunningExecution] = ()
    """Running executions (at least those started before the long-running threshold)."""
    outcomes: Mapping[str, Outcomes] = field(default_factory=dict[str, Outcomes])
    """Per workspace: how the executions that finished in the success window ended."""
    step_errors: int = 0
    """Failed step attempts in the last `ERROR_WINDOW_S` seconds."""
    memory: MemoryUsage | None = None
    """The process's memory use; None when it cannot be read."""
    quotas: Sequence[QuotaUsage] = ()
    """Rate-limit quotas in use."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """A condition a rule found to hold now."""

    key: str
    """What it is about, unique within the rule."""
    severity: Severity
    """How urgent it is."""
    message: str
    """One sentence for a person."""
    workspace_id: str | None = None
    """The workspace it concerns; None for the whole service."""
    labels: Mapping[str, str] = field(default_factory=dict[str, str])
    """Details for machines; ``process`` marks a finding about one process only."""


class Rule(Protocol):
    """A rule: its name, and the findings it makes of a snapshot."""

    @property
    def name(self) -> str:
        """Unique among the rules (stored with each alert)."""
        ...

    @property
    def process_local(self) -> bool:
        """Whether it judges the process evaluating it (not the shared state).

        A one-off check from another process skips it.
        """
        ...

    def evaluate(self, signals: Signals) -> list[Finding]:
        """The conditions that hold in `signals`."""
        ...


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m {secs}s" if secs else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


def _mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


@dataclass(frozen=True, slots=True)
class LongRunning:
    """``long_running``: an execution running longer than `threshold_s` (one per execution)."""

    threshold_s: float = 300.0
    """Seconds of running that are too many."""
    name: str = field(default="long_running", init=False)
    process_local: bool = field(default=False, init=False)

    def evaluate(self, signals: Signals) -> list[Finding]:
        """One finding per execution running for over the threshold."""
        found: list[Finding] = []
        for ex in signals.running:
            age = (signals.now - ex.started_at).total_seconds()
            if age > self.threshold_s:
                found.append(
                    Finding(
                        key=ex.id,
                        severity=Severity.WARNING,
                        message=f"execution {ex.id} ({ex.name!r}) has been running for "
                        f"{_duration(age)}, longer than {_duration(self.threshold_s)}",
                        workspace_id=ex.workspace_id,
                        labels={"execution_id": ex.id},
                    )
                )
        return found


@dataclass(frozen=True, slots=True)
class SuccessRate:
    """``success_rate``: a workspace's executions succeed less often than `minimum`."""

    minimum: float = 0.7
    """The lowest acceptable share of succeeded executions."""
    window_s: float = 3600.0
    """The window it is measured over, for the message: `Signals.outcomes` is gathered over
    `AlertThresholds.success_window_s`, so build both from the same thresholds."""
    min_executions: int = 10
    """Finished executions needed before the rate is judged."""
    name: str = field(default="success_rate", init=False)
    process_local: bool = field(default=False, init=False)

    def evaluate(self, signals: Signals) -> list[Finding]:
        """One finding per workspace under the minimum."""
        found: list[Finding] = []
        for workspace_id, outcomes in sorted(signals.outcomes.items()):
            rate = outcomes.success_rate
            if outcomes.total < self.min_executions or rate is None or rate >= self.minimum:
                continue
            found.append(
                Finding(
                    key=workspace_id,
                    severity=Severity.CRITICAL,
                    message=f"{outcomes.succeeded} of {outcomes.total} executions of workspace "
                    f"{workspace_id!r} succeeded in the last {_duration(self.window_s)} "
                    f"({rate:.0%}, under {self.minimum:.0%})",
                    workspace_id=workspace_id,
                    labels={"succeeded": str(outcomes.succeeded), "total": str(outcomes.total)},
                )
            )
        return found


@dataclass(frozen=True, slots=True)
class ErrorRate:
    """``error_rate``: more than `per_minute` failed step attempts in the last minute."""

    per_minute: int = 10
    """The most failed attempts a minute that is still fine."""
    name: str = field(default="error_rate", init=False)
    process_local: bool = field(default=False, init=False)

    def evaluate(self, signals: Signals) -> list[Finding]:
        """One service-wide finding when over the limit."""
        if signals.step_errors <= self.per_minute:
            return []
        return [
            Finding(
                key="all",
                severity=Severity.CRITICAL,
                message=f"{signals.step_errors} step attempts failed in the last minute "
                f"(more than {self.per_minute})",
                labels={"errors": str(signals.step_errors)},
            )
        ]


@dataclass(frozen=True, slots=True)
class MemoryPressure:
    """``memory``: the process uses more than `fraction` of its memory limit."""

    fraction: float = 0.8
    """The share of the limit that is too much."""
    name: str = field(default="memory", init=False)
    process_local: bool = field(default=True, init=False)

    def evaluate(self, signals: Signals) -> list[Finding]:
        """One finding for this process when over the share."""
        usage = signals.memory
        if usage is None or usage.fraction <= self.fraction:
            return []
        return [
            Finding(
                key=signals.process,
                severity=Severity.CRITICAL,
                message=f"process {signals.process} uses {_mib(usage.rss_bytes)} of its "
                f"{_mib(usage.limit_bytes)} memory limit ({usage.source}): "
                f"{usage.fraction:.0%}, over {self.fraction:.0%}",
                labels={"process": signals.process, "limit_source": usage.source},
            )
        ]


@dataclass(frozen=True, slots=True)
class RateLimitNearlyExhausted:
    """``rate_limit``: a key has at most `remaining_fraction` of its quota left."""

    remaining_fraction: float = 0.1
    """The share of the quota left that is too little."""
    name: str = field(default="rate_limit", init=False)
    process_local: bool = field(default=False, init=False)

    def evaluate(self, signals: Signals) -> list[Finding]:
        """One finding per nearly exhausted quota (per process for per-process quotas)."""
        found: list[Finding] = []
        for quota in signals.quotas:
            if quota.size < 1 or quota.remaining > quota.size * self.remaining_fraction:
                continue
            labels = {"rate_limit_key": quota.key}
            key = quota.key
            if quota.process is not None:
                labels["process"] = quota.process
                key = f"{quota.process}/{quota.key}"
            found.append(
                Finding(
                    key=key,
                    severity=Severity.WARNING,
                    message=f"rate limit {quota.key!r} has {quota.remaining} of {quota.size} "
                    "calls left in its window",
                    labels=labels,
                )
            )
        return found


def default_rules(thresholds: AlertThresholds, disabled: Collection[str] = ()) -> list[Rule]:
    """The seed's rules with these thresholds, less those named in `disabled`."""
    t = thresholds
    rules: list[Rule] = [
        LongRunning(t.long_running_s),
        SuccessRate(t.success_rate_min, t.success_window_s, t.success_min_executions),
        ErrorRate(t.errors_per_minute),
        MemoryPressure(t.memory_fraction),
        RateLimitNearlyExhausted(t.rate_limit_remaining_fraction),
    ]
    return [r for r in rules if r.name not in disabled]
