"""The seed's six key metrics for a time window, from the database (``baton stats``).

Execution count, success rate, average duration, token usage, cache hit rate and error rate,
over the executions *created* in ``[since, until)``, optionally of one workspace. The
figures are SQL aggregates (two grouped counts in one transaction), so the cost does not grow
with the size of plans or event logs, only with the number of executions in the window:

- **execution count**: executions by status (every status, zeros included);
- **success rate**: succeeded / finished (succeeded, failed or cancelled); None while none
  has finished;
- **average duration**: of the finished ones, ``finished_at - started_at`` (a resumed
  execution's pauses included: it is the wait its requester saw);
- **error rate**: failed steps / steps that ran to an outcome (succeeded or failed; skipped
  and cancelled steps never ran to one), and failed steps per minute of the window;
- **token usage** and **cache hit rate**: read by a `UsageSource` (the engine passes
  `baton.observability.key_usage.SqlUsage`: the steps' model calls, planning from the plans'
  provenance, cache hits from the step events); without one they are None, which
  ``baton stats`` prints as "n/a".
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Connection

from baton.errors import UsageError
from baton.events import ExecutionStatus, StepStatus
from baton.store.sql.database import Database
from baton.store.sql.tables import execution_steps, executions

__all__ = [
    "CacheUsage",
    "KeyMetrics",
    "TokenUsage",
    "UsageSource",
    "key_metrics",
    "parse_since",
]

_FINISHED = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)
_RAN = (StepStatus.SUCCEEDED.value, StepStatus.FAILED.value)
_SPAN = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}


@dataclass(frozen=True, slots=True, kw_only=True)
class TokenUsage:
    """Language-model tokens (and cost) over a window."""

    input_tokens: int
    """Prompt tokens."""
    output_tokens: int
    """Completion tokens."""
    cost_usd: float | None = None
    """What they cost, when priced (the `unpriced_calls` are not in it)."""
    calls: int = 0
    """Model calls made."""
    unpriced_calls: int = 0
    """Calls whose model has no price (their cost is not in `cost_usd`)."""

    @property
    def total(self) -> int:
        """Input and output tokens together."""
        return self.input_tokens + self.output_tokens


@dataclass(frozen=True, slots=True, kw_only=True)
class CacheUsage:
    """Cache lookups over a window."""

    hits: int
    """Lookups a cache answered."""
    misses: int
    """Lookups it could not."""

    @property
    def hit_rate(self) -> float | None:
        """Hits / lookups; None without lookups."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None


class UsageSource(Protocol):
    """Where token and cache usage is read (`SqlUsage`, or `ScanUsage` in memory)."""

    async def token_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> TokenUsage | None:
        """Tokens used in the window; None when nothing records them."""
        ...

    async def cache_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> CacheUsage | None:
        """Cache lookups in the window; None when nothing records them."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyMetrics:
    """The six key metrics of a window (see the module docstring for each definition)."""

    since: datetime
    """Start of the window (inclusive, UTC)."""
    until: datetime
    """End of the window (exclusive, UTC)."""
    workspace_id: str | None
    """The workspace counted; None for every workspace."""
    executions: Mapping[ExecutionStatus, int]
    """Executions created in the window, by current status (every status present)."""
    average_duration_s: float | None
    """Mean ``finished_at - started_at`` of the finished executions; None without any."""
    steps_succeeded: int
    """Steps of those executions that succeeded."""
    steps_failed: int
    """Steps of those executions that failed."""
    tokens: TokenUsage | None = None
    """Token usage (steps and planning); None when no `UsageSource` was given."""
    cache: CacheUsage | None = None
    """Cache lookups and hits; None when no `UsageSource` was given."""

    @property
    def execution_count(self) -> int:
        """Executions created in the window."""
        return sum(self.executions.values())

    @property
    def finished(self) -> int:
        """Executions that succeeded, failed or were cancelled."""
        return sum(self.executions[s] for s in _FINISHED)

    @property
    def success_rate(self) -> float | None:
        """Succeeded / finished; None while none has finished."""
        finished = self.finished
        return self.executions[ExecutionStatus.SUCCEEDED] / finished if finished else None

    @property
    def error_rate(self) -> float | None:
        """Failed steps / steps that succeeded or failed; None when no step ran."""
        ran = self.steps_succeeded + self.steps_failed
        return self.steps_failed / ran if ran else None

    @property
    def window_minutes(self) -> float:
        """Length of the window in minutes."""
        return (self.until - self.since).total_seconds() / 60

    @property
    def errors_per_minute(self) -> float:
        """Failed steps per minute of the window."""
        minutes = self.window_minutes
        return self.steps_failed / minutes if minutes > 0 else 0.0

    @property
    def cache_hit_rate(self) -> float | None:
        """Cache hits / lookups; None while nothing records lookups."""
        return self.cache.hit_rate if self.cache is not None else None


def parse_since(text: str, *, now: datetime, timezone: str = "UTC") -> datetime:
    """The start of a window given as a span back from `now`, or as a date or time.

    A span is ``30m``, ``24h``, ``7d``, ``2w`` or a sum such as ``1d12h``; a date or time is
    ISO (``2026-01-31``, ``2026-01-31T09:00``), in `timezone` when it has no offset.

    Raises:
        UsageError: neither form, or a start that is not before `now`.
    """
    raw = text.strip().lower()
    if raw and _SPAN.sub("", raw).strip() == "":
        seconds = sum(float(n) * _UNIT_S[u] for n, u in _SPAN.findall(raw))
        start = now - timedelta(seconds=seconds)
    else:
        try:
            parsed = datetime.fromisoformat(text.strip())
        except ValueError:
            raise UsageError(
                f"cannot read {text!r} as a time window",
                hint="give a span back from now (30m, 24h, 7d, 2w) or an ISO date or time "
                "(2026-01-31, 2026-01-31T09:00)",
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=ZoneInfo(timezone))
        start = parsed.astimezone(UTC)
    if start >= now:
        raise UsageError(f"the window starting {text!r} is empty: it starts now or later")
    return start


async def key_metrics(
    db: Database,
    *,
    since: datetime,
    until: datetime | None = None,
    workspace_id: str | None = None,
    usage: UsageSource | None = None,
) -> KeyMetrics:
    """The key metrics of the executions created in ``[since, until)`` (until: now).

    Args:
        db: The database baton keeps its executions in.
        since: Start of the window (timezone-aware).
        until: End of the window; now by default.
        workspace_id: Count only this workspace's executions; None for all.
        usage: Where token and cache usage is recorded; None: not recorded (n/a).
    """
    end = until or datetime.now(UTC)

    def work(conn: Connection) -> KeyMetrics:
        by_status, average = _executions(conn, db.dialect, since, end, workspace_id)
        steps = _steps(conn, since, end, workspace_id)
        return KeyMetrics(
            since=since,
            until=end,
            workspace_id=workspace_id,
            executions=by_status,
            average_duration_s=average,
            steps_succeeded=steps.get(StepStatus.SUCCEEDED.value, 0),
            steps_failed=steps.get(StepStatus.FAILED.value, 0),
        )

    found = await db.transaction(work)
    if usage is None:
        return found
    tokens = await usage.token_usage(since, end, workspace_id)
    cache = await usage.cache_usage(since, end, workspace_id)
    return KeyMetrics(
        since=found.since,
        until=found.until,
        workspace_id=found.workspace_id,
        executions=found.executions,
        average_duration_s=found.average_duration_s,
        steps_succeeded=found.steps_succeeded,
        steps_failed=found.steps_failed,
        tokens=tokens,
        cache=cache,
    )


def _in_window(
    since: datetime, until: datetime, workspace_id: str | None
) -> list[sa.ColumnElement[bool]]:
    where = [executions.c.created_at >= since, executions.c.created_at < until]
    if workspace_id is not None:
        where.append(executions.c.workspace_id == workspace_id)
    return where


def _duration_s(dialect: str) -> sa.ColumnElement[Any]:
    started, finished = executions.c.started_at, executions.c.finished_at
    if dialect == "sqlite":  # stored as naive UTC text; julianday reads it (fractional days)
        return (sa.func.julianday(finished) - sa.func.julianday(started)) * 86_400.0
    return sa.extract("epoch", finished - started)


def _executions(
    conn: Connection, dialect: str, since: datetime, until: datetime, workspace_id: str | None
) -> tuple[dict[ExecutionStatus, int], float | None]:
    duration = _duration_s(dialect)
    finished_only = executions.c.status.in_([s.value for s in _FINISHED])
    timed = sa.case((finished_only, duration), else_=None)
    query = (
        sa.select(
            executions.c.status,
            sa.func.count(),
            sa.func.count(timed),
            sa.func.sum(timed),
        )
        .where(*_in_window(since, until, workspace_id))
        .group_by(executions.c.status)
    )
    by_status = dict.fromkeys(ExecutionStatus, 0)
    timed_count, timed_sum = 0, 0.0
    for status, count, n_timed, total in conn.execute(query):
        by_status[ExecutionStatus(status)] += int(count)
        timed_count += int(n_timed)
        timed_sum += float(total or 0.0)
    average = timed_sum / timed_count if timed_count else None
    return by_status, average


def _steps(
    conn: Connection, since: datetime, until: datetime, workspace_id: str | None
) -> dict[str, int]:
    query = (
        sa.select(execution_steps.c.status, sa.func.count())
        .select_from(
            execution_steps.join(executions, executions.c.id == execution_steps.c.execution_id)
        )
        .where(*_in_window(since, until, workspace_id), execution_steps.c.status.in_(_RAN))
        .group_by(execution_steps.c.status)
    )
    return {str(status): int(count) for status, count in conn.execute(query)}
