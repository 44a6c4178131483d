"""Alerts on SQLAlchemy: the ``alerts`` table (`SqlAlertStore`) and `SqlActivity`.

At most one firing alert per ``(rule, key)``, against every process: a *partial* unique index
on ``(rule, key) WHERE resolved_at IS NULL`` (SQLite and PostgreSQL both have them) holds it,
and `SqlAlertStore.fire` inserts with ``ON CONFLICT DO NOTHING`` on that index, so of two
processes firing the same alert at once exactly one stores it (and announces it); the other
sees zero rows inserted. `SqlAlertStore.resolve` is an ``UPDATE ... WHERE resolved_at IS
NULL``: only one racer changes the row.

`SqlActivity` reads what the rules need with queries an index answers, so that a tick costs
the same whatever the size of the history:

- running executions: ``ix_executions_status``;
- executions finished in a window: ``ix_executions_finished_at``, a partial index on
  ``finished_at`` of finished executions only (nothing for running ones to maintain);
- step errors in the last minute: ``ix_execution_events_errors``, a partial index on ``at``
  of ``step_failed`` and ``step_retrying`` events only, so the hot path of appending the
  other events pays nothing for it. (SQLite uses a partial index only when the query repeats
  its condition with literal values, hence `_ERROR_EVENT` is SQL text used by both.)

Both indexes are on tables of `baton.store.sql.tables` but are defined here, with the
migration that creates them (0009), because only the alerts read through them.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Generator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Row,
    String,
    Table,
    Text,
    delete,
    func,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError, UsageError
from baton.events import ExecutionStatus
from baton.store.alerts import (
    ERROR_KINDS,
    Alert,
    Outcomes,
    RunningExecution,
    Severity,
    check_limit,
    check_new,
)
from baton.store.sql.database import Database
from baton.store.sql.rate_limits import rate_limit_admissions
from baton.store.sql.tables import Json, UtcDateTime, execution_events, executions, metadata

__all__ = ["SqlActivity", "SqlAlertStore", "alerts"]

_FIRING = text("resolved_at IS NULL")

alerts = Table(
    "alerts",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("rule", String(64), nullable=False),
    Column("key", String(512), nullable=False),
    Column("workspace_id", String(64)),
    Column("severity", String(16), nullable=False),
    Column("message", Text, nullable=False),
    Column("labels", Json, nullable=False),
    Column("fired_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    # The guarantee: one firing alert per (rule, key), whichever process fires it.
    Index(
        "uq_alerts_firing",
        "rule",
        "key",
        unique=True,
        sqlite_where=_FIRING,
        postgresql_where=_FIRING,
    ),
    Index("ix_alerts_fired_at", "fired_at"),
    Index("ix_alerts_resolved_at", "resolved_at"),
)

_al = alerts.c

_ERROR_EVENT = "kind IN ({})".format(", ".join(f"'{k}'" for k in ERROR_KINDS))
_FINISHED = "finished_at IS NOT NULL"

Index(
    "ix_execution_events_errors",
    execution_events.c.at,
    sqlite_where=text(_ERROR_EVENT),
    postgresql_where=text(_ERROR_EVENT),
)
Index(
    "ix_executions_finished_at",
    executions.c.finished_at,
    sqlite_where=text(_FINISHED),
    postgresql_where=text(_FINISHED),
)

_ex = executions.c
_ev = execution_events.c
_ra = rate_limit_admissions.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise UsageError(f"the alert store refused to {action}: {exc.orig}") from exc
    except DBAPIError as exc:
        raise StoreError(
            f"the alert store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _record(row: Row[Any]) -> Alert:
    return Alert(
        id=row.id,
        rule=row.rule,
        key=row.key,
        severity=Severity(row.severity),
        message=row.message,
        workspace_id=row.workspace_id,
        labels=dict(row.labels),
        fired_at=row.fired_at,
        resolved_at=row.resolved_at,
    )


def _values(alert: Alert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "rule": alert.rule,
        "key": alert.key,
        "workspace_id": alert.workspace_id,
        "severity": alert.severity.value,
        "message": alert.message,
        "labels": dict(alert.labels),
        "fired_at": alert.fired_at,
        "resolved_at": None,
    }


def _fire(conn: Connection, new: Sequence[Alert]) -> list[Alert]:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stored: list[Alert] = []
    for alert in new:
        stmt = (
            insert(alerts)
            .values(_values(alert))
            .on_conflict_do_nothing(index_elements=["rule", "key"], index_where=_FIRING)
        )
        if conn.execute(stmt).rowcount == 1:
            stored.append(alert)
    return stored


def _resolve(conn: Connection, idents: Sequence[tuple[str, str]], at: datetime) -> list[Row[Any]]:
    resolved: list[Row[Any]] = []
    for rule, key in idents:
        row = conn.execute(
            select(alerts).where(_al.rule == rule, _al.key == key, _al.resolved_at.is_(None))
        ).first()
        if row is None:
            continue
        done = update(alerts).where(_al.id == row.id, _al.resolved_at.is_(None))
        if conn.execute(done.values(resolved_at=at)).rowcount == 1:
            resolved.append(conn.execute(select(alerts).where(_al.id == row.id)).one())
    return resolved


class SqlAlertStore:
    """An `AlertStore` in the ``alerts`` table, shared by every process on the database."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def fire(self, alerts: Sequence[Alert]) -> list[Alert]:
        """Store the alerts not firing already (in one transaction); returns those stored."""
        check_new(alerts)
        if not alerts:
            return []
        with _store_errors("fire alerts"):
            return await self._db.transaction(lambda conn: _fire(conn, alerts))

    async def resolve(self, idents: Sequence[tuple[str, str]], at: datetime) -> list[Alert]:
        """Resolve the firing alerts of these pairs; returns those resolved now."""
        if not idents:
            return []
        with _store_errors("resolve alerts"):
            rows = await self._db.transaction(lambda conn: _resolve(conn, idents, at))
        return [_record(row) for row in rows]

    async def firing(self) -> builtins.list[Alert]:
        """Every firing alert, oldest first."""
        query = select(alerts).where(_al.resolved_at.is_(None)).order_by(_al.fired_at, _al.id)
        with _store_errors("read firing alerts"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def list(
        self,
        *,
        include_resolved: bool = False,
        visible_to: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        """Alerts, newest first, filtered as asked."""
        check_limit(limit)
        query = select(alerts).order_by(_al.fired_at.desc(), _al.id.desc()).limit(limit)
        if not include_resolved:
            query = query.where(_al.resolved_at.is_(None))
        if visible_to is not None:
            query = query.where(or_(_al.workspace_id.is_(None), _al.workspace_id == visible_to))
        with _store_errors("list alerts"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def prune(self, resolved_before: datetime) -> int:
        """Forget the alerts resolved before `resolved_before`."""
        stmt = delete(alerts).where(_al.resolved_at < resolved_before)
        with _store_errors("prune alerts"):
            return await self._db.transaction(lambda conn: int(conn.execute(stmt).rowcount))


def _admissions(
    conn: Connection, now: datetime, window_of: Callable[[str], float | None]
) -> dict[str, int]:
    keys = conn.execute(select(_ra.key).distinct()).scalars().all()
    counts: dict[str, int] = {}
    for key in keys:
        window_s = window_of(key)
        if window_s is None:
            continue
        start = now - timedelta(seconds=window_s)
        count = conn.execute(
            select(func.count()).where(_ra.key == key, _ra.at > start, _ra.at <= now)
        ).scalar_one()
        if count:
            counts[key] = int(count)
    return counts


class SqlActivity:
    """`Activity` read from the execution tables (and ``rate_limit_admissions``) by index."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def running(self, started_before: datetime) -> list[RunningExecution]:
        """Running executions started before `started_before`, oldest first."""
        query = (
            select(_ex.id, _ex.workspace_id, _ex.name, _ex.started_at)
            .where(_ex.status == ExecutionStatus.RUNNING.value, _ex.started_at < started_before)
            .order_by(_ex.started_at, _ex.id)
        )
        with _store_errors("read running executions"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [
            RunningExecution(
                id=row.id, workspace_id=row.workspace_id, name=row.name, started_at=row.started_at
            )
            for row in rows
        ]

    async def outcomes(self, since: datetime) -> dict[str, Outcomes]:
        """Per workspace: executions that succeeded and failed since `since`."""
        query = (
            select(_ex.workspace_id, _ex.status, func.count())
            # finished_at alone, so that the partial index answers it (whatever the
            # planner guesses of the status index); other statuses are dropped below.
            .where(_ex.finished_at >= since)
            .group_by(_ex.workspace_id, _ex.status)
        )
        with _store_errors("read execution outcomes"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        counts: dict[str, dict[str, int]] = {}
        for workspace_id, status, count in rows:
            counts.setdefault(workspace_id, {})[status] = int(count)
        found = {
            ws: Outcomes(
                succeeded=c.get(ExecutionStatus.SUCCEEDED.value, 0),
                failed=c.get(ExecutionStatus.FAILED.value, 0),
            )
            for ws, c in counts.items()
        }
        return {ws: o for ws, o in found.items() if o.total}

    async def step_errors(self, since: datetime) -> int:
        """Failed attempts (``step_failed``, ``step_retrying`` events) since `since`."""
        query = (
            select(func.count())
            .select_from(execution_events)
            .where(text(_ERROR_EVENT), _ev.at >= since)
        )
        with _store_errors("count step errors"):
            count = await self._db.transaction(lambda conn: conn.execute(query).scalar_one())
        return int(count)

    async def admissions(
        self, now: datetime, window_of: Callable[[str], float | None]
    ) -> dict[str, int]:
        """Per key of ``rate_limit_admissions``: admissions in its current window."""
        with _store_errors("read rate-limit admissions"):
            return await self._db.transaction(lambda conn: _admissions(conn, now, window_of))
