"""Alerts: the records, the store they live in, and what the alert rules read from executions.

An `Alert` is one spell of one condition: it is *fired* when a rule finds the condition (a
rule and a key, e.g. ``long_running`` of execution ``ex_1``) and *resolved* when the
condition clears. The store keeps at most one firing alert per ``(rule, key)`` against every
other caller, so two processes evaluating the rules at the same moment never fire the same
alert twice (`AlertStore.fire`), nor both resolve it (`AlertStore.resolve`).

`Activity` is what the rules read from the execution store each tick: executions running
for long, outcomes of the recently finished ones, recent step errors and the rate-limit
admissions kept in the database. `StoreActivity` reads it through any `ExecutionStore` (the
in-memory engine); `baton.store.sql.alerts.SqlActivity` reads it with indexed queries.

The SQL implementations are in `baton.store.sql.alerts`; every implementation passes
``tests/store/test_alert_store.py``. The rules and the evaluator live in
`baton.observability.alerts`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from baton.errors import UsageError
from baton.events import ExecutionStatus
from baton.ids import new_execution_id
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord

__all__ = [
    "ERROR_KINDS",
    "Activity",
    "Alert",
    "AlertStore",
    "MemoryAlertStore",
    "Outcomes",
    "RunningExecution",
    "Severity",
    "StoreActivity",
    "new_alert_id",
]

ERROR_KINDS = ("step_failed", "step_retrying")
"""Event kinds that count as a step error: an attempt that failed (retried or for good)."""


def new_alert_id() -> str:
    """A new, time-sortable alert id such as ``al_01hx...``."""
    return "al_" + new_execution_id().removeprefix("ex_")


class Severity(StrEnum):
    """How urgent an alert is."""

    WARNING = "warning"
    """Worth a look soon."""
    CRITICAL = "critical"
    """Something is failing now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Alert:
    """One alert: a condition a rule found, from when it fired until it resolved."""

    id: str
    """``al_...``."""
    rule: str
    """The rule that found it (``long_running``, ``success_rate``...)."""
    key: str
    """What it is about, unique among the rule's firing alerts (an execution id...)."""
    severity: Severity
    """How urgent it is."""
    message: str
    """One sentence for a person, written when it fired."""
    workspace_id: str | None = None
    """The workspace it concerns; None for the whole service (seen by every workspace)."""
    labels: dict[str, str] = field(default_factory=dict[str, str])
    """Details for machines (``execution_id``, ``process``...)."""
    fired_at: datetime
    """When it fired."""
    resolved_at: datetime | None = None
    """When its condition cleared; None while it is firing."""

    @property
    def firing(self) -> bool:
        """Whether its condition still holds (it is not resolved)."""
        return self.resolved_at is None

    @property
    def ident(self) -> tuple[str, str]:
        """``(rule, key)``: at most one firing alert has it."""
        return (self.rule, self.key)


class AlertStore(Protocol):
    """Where alerts live; firing and resolving are atomic against every other caller."""

    async def fire(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Store new firing alerts, skipping each whose ``(rule, key)`` is firing already.

        Returns:
            The alerts stored now, in the given order (the caller announces these only).

        Raises:
            UsageError: an alert is resolved already, or two share a ``(rule, key)``.
        """
        ...

    async def resolve(self, idents: Sequence[tuple[str, str]], at: datetime) -> list[Alert]:
        """Resolve the firing alerts of these ``(rule, key)`` pairs at `at`.

        Returns:
            The alerts resolved now (those already resolved by another caller are left out).
        """
        ...

    async def firing(self) -> list[Alert]:
        """Every firing alert, oldest first."""
        ...

    async def list(
        self,
        *,
        include_resolved: bool = False,
        visible_to: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts, newest first: firing ones, and resolved ones too if asked.

        Args:
            include_resolved: Also the resolved ones.
            visible_to: Only the service-wide alerts and those of this workspace (None: all).
            limit: At most this many.
        """
        ...

    async def prune(self, resolved_before: datetime) -> int:
        """Forget the alerts resolved before `resolved_before`; returns how many."""
        ...


def check_new(alerts: Sequence[Alert]) -> None:
    """Refuse what `AlertStore.fire` cannot store."""
    seen: set[tuple[str, str]] = set()
    for alert in alerts:
        if not alert.firing:
            raise UsageError(f"alert {alert.id!r} is resolved already: only firing ones are new")
        if alert.ident in seen:
            raise UsageError(f"two new alerts of rule {alert.rule!r} share the key {alert.key!r}")
        seen.add(alert.ident)


def check_limit(limit: int) -> None:
    """Refuse a listing limit below 1."""
    if limit < 1:
        raise UsageError(f"the alert list limit must be at least 1, not {limit}")


def newest_first(alerts: Sequence[Alert]) -> list[Alert]:
    """Alerts ordered as `AlertStore.list` returns them."""
    return sorted(alerts, key=lambda a: (a.fired_at, a.id), reverse=True)


class MemoryAlertStore:
    """An `AlertStore` in a list: one process only (tests, running without a database).

    No method awaits, so each is atomic on the event loop.
    """

    def __init__(self) -> None:
        self._rows: dict[str, Alert] = {}
        self._firing: dict[tuple[str, str], str] = {}

    async def fire(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Store the alerts not firing already; returns those stored."""
        check_new(alerts)
        stored: list[Alert] = []
        for alert in alerts:
            if alert.ident in self._firing:
                continue
            if alert.id in self._rows:
                raise UsageError(f"alert {alert.id!r} exists already")
            self._rows[alert.id] = alert
            self._firing[alert.ident] = alert.id
            stored.append(alert)
        return stored

    async def resolve(self, idents: Sequence[tuple[str, str]], at: datetime) -> list[Alert]:
        """Resolve the firing alerts of these pairs; returns those resolved now."""
        resolved: list[Alert] = []
        for ident in idents:
            alert_id = self._firing.pop(ident, None)
            if alert_id is None:
                continue
            done = dataclasses.replace(self._rows[alert_id], resolved_at=at)
            self._rows[alert_id] = done
            resolved.append(done)
        return resolved

    async def firing(self) -> list[Alert]:
        """Every firing alert, oldest first."""
        return sorted(
            (self._rows[i] for i in self._firing.values()), key=lambda a: (a.fired_at, a.id)
        )

    async def list(
        self,
        *,
        include_resolved: bool = False,
        visible_to: str | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts, newest first, filtered as asked."""
        check_limit(limit)
        rows = [
            a
            for a in self._rows.values()
            if (include_resolved or a.firing)
            and (visible_to is None or a.workspace_id in (None, visible_to))
        ]
        return newest_first(rows)[:limit]

    async def prune(self, resolved_before: datetime) -> int:
        """Forget the alerts resolved before `resolved_before`."""
        old = [
            i
            for i, a in self._rows.items()
            if a.resolved_at is not None and a.resolved_at < resolved_before
        ]
        for alert_id in old:
            del self._rows[alert_id]
        return len(old)


@dataclass(frozen=True, slots=True, kw_only=True)
class RunningExecution:
    """An execution that is running, as the long-running rule sees it."""

    id: str
    """Execution id."""
    workspace_id: str
    """Its workspace."""
    name: str
    """Its plan's name."""
    started_at: datetime
    """When it first started running."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcomes:
    """How the executions of a workspace that finished in a window ended."""

    succeeded: int = 0
    """Executions that succeeded."""
    failed: int = 0
    """Executions that failed (cancelled ones count as neither)."""

    @property
    def total(self) -> int:
        """Executions that succeeded or failed."""
        return self.succeeded + self.failed

    @property
    def success_rate(self) -> float | None:
        """Share that succeeded; None when there were none."""
        return self.succeeded / self.total if self.total else None


class Activity(Protocol):
    """What the alert rules read from the executions (and the rate-limit admissions)."""

    async def running(self, started_before: datetime) -> list[RunningExecution]:
        """Executions running now that started before `started_before`, oldest first."""
        ...

    async def outcomes(self, since: datetime) -> dict[str, Outcomes]:
        """Per workspace: how the executions that finished at or after `since` ended."""
        ...

    async def step_errors(self, since: datetime) -> int:
        """Failed step attempts (events of `ERROR_KINDS`) at or after `since`."""
        ...

    async def admissions(
        self, now: datetime, window_of: Callable[[str], float | None]
    ) -> dict[str, int]:
        """Per rate-limit key kept in the database: calls admitted in its current window.

        Args:
            now: The end of every window.
            window_of: The window of a key in seconds; None for a key with no quota now
                (left out).

        Returns:
            Only keys with at least one admission in their window; empty when the store
            keeps no admissions.
        """
        ...


_PAGE = 500


class StoreActivity:
    """`Activity` read through an `ExecutionStore`'s protocol (for the in-memory engine).

    It pages through the executions, so it suits small stores; the SQL engine uses
    `baton.store.sql.alerts.SqlActivity`. Rate-limit admissions are not in an execution store:
    `admissions` is always empty.
    """

    def __init__(self, store: ExecutionStore) -> None:
        """Read `store`."""
        self._store = store

    async def running(self, started_before: datetime) -> list[RunningExecution]:
        """Running executions started before `started_before`, oldest first."""
        found = [
            RunningExecution(
                id=r.id, workspace_id=r.workspace_id, name=r.name, started_at=r.started_at
            )
            for r in await self._all(ExecutionStatus.RUNNING)
            if r.started_at is not None and r.started_at < started_before
        ]
        return sorted(found, key=lambda r: (r.started_at, r.id))

    async def outcomes(self, since: datetime) -> dict[str, Outcomes]:
        """Per workspace: executions that succeeded and failed since `since`."""
        counts: dict[str, Outcomes] = {}
        for status in (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED):
            for r in await self._all(status):
                if r.finished_at is None or r.finished_at < since:
                    continue
                now = counts.get(r.workspace_id, Outcomes())
                if status is ExecutionStatus.SUCCEEDED:
                    now = dataclasses.replace(now, succeeded=now.succeeded + 1)
                else:
                    now = dataclasses.replace(now, failed=now.failed + 1)
                counts[r.workspace_id] = now
        return counts

    async def step_errors(self, since: datetime) -> int:
        """Failed attempts since `since`, from the logs of executions active since then."""
        errors = 0
        for record in await self._all(None):
            if record.finished_at is not None and record.finished_at < since:
                continue  # it ended before the window: no error of it is in the window
            for stored in await self._store.events(record.id):
                event = stored.event
                if event.kind in ERROR_KINDS and event.at >= since:
                    errors += 1
        return errors

    async def admissions(
        self, now: datetime, window_of: Callable[[str], float | None]
    ) -> dict[str, int]:
        """Empty: an execution store keeps no rate-limit admissions."""
        return {}

    async def _all(self, status: ExecutionStatus | None) -> list[ExecutionRecord]:
        found: list[ExecutionRecord] = []
        before: str | None = None
        while True:
            page = await self._store.list_executions(limit=_PAGE, status=status, before=before)
            found.extend(page)
            if len(page) < _PAGE:
                return found
            before = page[-1].id
