"""`TraceStore` on SQLAlchemy: one ``traces`` row per finished span.

Times are integer nanoseconds since the Unix epoch, as OpenTelemetry gives them (exact, and
durations are a subtraction); attributes and events are JSON text. Rows are written in
batches by the tracing exporter and read by execution, scoped by workspace.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Row,
    String,
    Table,
    Text,
    select,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from baton.errors import StoreError
from baton.store.sql.database import Database
from baton.store.sql.tables import metadata
from baton.store.traces import SpanEventRecord, SpanRecord, SpanStatus

__all__ = ["SqlTraceStore", "traces_table"]

traces_table = Table(
    "traces",
    metadata,
    Column("trace_id", String(32), primary_key=True),
    Column("span_id", String(16), primary_key=True),
    Column("parent_span_id", String(16)),
    Column("execution_id", String(40), nullable=False),
    Column("workspace_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("start_ns", BigInteger, nullable=False),
    Column("end_ns", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("status_message", Text),
    Column("attributes", Text, nullable=False),
    Column("events", Text, nullable=False),
    # The one read: an execution's spans (in its workspace).
    Index("ix_traces_execution_id", "execution_id", "workspace_id", "start_ns"),
)

_t = traces_table.c


_json = json.JSONEncoder(separators=(",", ":"), default=str).encode


_COLUMNS = tuple(c.name for c in traces_table.columns)


def _row(span: SpanRecord) -> tuple[Any, ...]:
    """The row's values in `_COLUMNS` order."""
    return (
        span.trace_id,
        span.span_id,
        span.parent_span_id,
        span.execution_id,
        span.workspace_id,
        span.name[:200],
        span.kind,
        span.start_ns,
        span.end_ns,
        span.status,
        span.status_message,
        _json(span.attributes),
        _json([[e.name, e.time_ns, e.attributes] for e in span.events]) if span.events else "[]",
    )


def _placeholders(paramstyle: str) -> str:
    """The driver's positional placeholders for one row (sqlite3: ``?``, asyncpg: ``$n``)."""
    n = len(_COLUMNS)
    if paramstyle == "qmark":
        return ", ".join("?" * n)
    if paramstyle in ("numeric", "numeric_dollar"):
        mark = ":" if paramstyle == "numeric" else "$"
        return ", ".join(f"{mark}{i}" for i in range(1, n + 1))
    if paramstyle in ("format", "pyformat"):
        return ", ".join(["%s"] * n)
    raise ValueError(f"unsupported DB-API paramstyle {paramstyle!r}")


def _insert_sql(paramstyle: str) -> str:
    return (
        f"INSERT INTO {traces_table.name} ({', '.join(_COLUMNS)}) "
        f"VALUES ({_placeholders(paramstyle)})"
    )


def _record(row: Row[Any]) -> SpanRecord:
    events = cast("list[list[Any]]", json.loads(row.events))
    return SpanRecord(
        trace_id=row.trace_id,
        span_id=row.span_id,
        parent_span_id=row.parent_span_id,
        execution_id=row.execution_id,
        workspace_id=row.workspace_id,
        name=row.name,
        kind=row.kind,
        start_ns=row.start_ns,
        end_ns=row.end_ns,
        status=cast("SpanStatus", row.status),
        status_message=row.status_message,
        attributes=json.loads(row.attributes),
        events=tuple(
            SpanEventRecord(name=name, time_ns=time_ns, attributes=attributes)
            for name, time_ns, attributes in events
        ),
    )


class SqlTraceStore:
    """A `TraceStore` in the ``traces`` table."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def add(self, spans: Sequence[SpanRecord]) -> None:
        """Insert one batch of spans in one transaction."""
        if not spans:
            return

        def work(conn: Connection) -> None:
            # Rows are made here (on SQLite, in the database's thread rather than the loop)
            # and go to the driver's executemany as tuples: a batch is thousands of rows, and
            # SQLAlchemy's per-row parameter handling would double the cost of each.
            sql = _insert_sql(conn.dialect.paramstyle)
            conn.exec_driver_sql(sql, [_row(s) for s in spans])

        try:
            await self._db.transaction(work)
        except DBAPIError as exc:
            raise StoreError(
                f"the trace store failed to keep {len(spans)} span(s): {exc.orig}",
                retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
            ) from exc

    async def spans(
        self, execution_id: str, *, workspace_id: str | None = None
    ) -> list[SpanRecord]:
        """The execution's spans, by start time."""
        query = select(traces_table).where(_t.execution_id == execution_id)
        if workspace_id is not None:
            query = query.where(_t.workspace_id == workspace_id)
        query = query.order_by(_t.start_ns, _t.span_id)
        try:
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        except DBAPIError as exc:
            raise StoreError(
                f"the trace store failed to read the spans of {execution_id}: {exc.orig}",
                retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
            ) from exc
        return [_record(row) for row in rows]
