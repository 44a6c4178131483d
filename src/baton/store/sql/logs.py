"""`LogStore` on SQLAlchemy: the ``logs`` table and its full-text index.

Full-text search differs per database, the query language (`baton.store.logs.parse_query`)
does not:

- SQLite: an FTS5 table ``logs_fts`` over ``logs.message`` (external content: it keeps only
  the index, not a second copy of the text), kept in step by triggers, with the
  ``unicode61`` tokenizer (letters and digits make words; case is folded). A query is
  rendered as FTS5 phrases (``"connection refused"``, ``"retr" *``). The search is driven
  by the index in descending rowid order, so a page of the newest matches stops early
  instead of reading every match; an execution filter also bounds the rowids searched by
  the execution's first and last record.
- PostgreSQL: a generated column ``message_tsv``, ``to_tsvector('simple', <message with every
  run of non-alphanumeric characters made a space>)``, with a GIN index, searched with a
  ``to_tsquery('simple', ...)`` of the same words (``connection <-> refused``, ``retr:*``).
  The ``simple`` configuration neither stems nor drops stop words, so a word matches itself
  only, as on SQLite. The planner needs statistics on the column to tell a rare word from a
  common one: autovacuum gathers them; after a bulk load, ``ANALYZE logs``.

Both objects are made by migration 0008 and cannot be described by the metadata; their names
are in `SEARCH_OBJECTS` (recorded in ``metadata.info["unmanaged"]``, which the schema
comparison in the tests leaves aside).

Ids come from the database (SQLite ``AUTOINCREMENT``: never reused, even after a purge), so
they grow in commit order on SQLite. On PostgreSQL two processes committing at once can
commit ids out of order: a follower may then miss the lower of them; logs are not the event
log, and the gap is as rare as two writers committing in the same instant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    ColumnElement,
    Connection,
    Index,
    Integer,
    Row,
    Select,
    SmallInteger,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
)
from sqlalchemy.sql import operators
from sqlalchemy.sql.expression import UnaryExpression

from baton.store.logs import (
    LogQuery,
    LogRecord,
    check_limit,
    clip_record,
    parse_query,
)
from baton.store.sql.database import Database
from baton.store.sql.tables import Json, UtcDateTime, metadata

__all__ = ["SEARCH_OBJECTS", "SqlLogStore", "fts5_query", "logs", "tsquery"]

logs = Table(
    "logs",
    metadata,
    # INTEGER PRIMARY KEY on SQLite: the rowid itself, which the FTS index refers to.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("at", UtcDateTime, nullable=False),
    Column("level", SmallInteger, nullable=False),
    Column("logger", String(200), nullable=False),
    Column("message", Text, nullable=False),
    Column("workspace_id", String(64)),
    Column("execution_id", String(40)),
    Column("step_id", String(64)),
    Column("trace_id", String(32)),
    Column("span_id", String(16)),
    Column("extra", Json),
    # A workspace's newest (tail, listing), an execution's, and by age (since, retention).
    Index("ix_logs_workspace_id_id", "workspace_id", "id"),
    # A workspace's newest of one level (a search by level alone, migration 0011).
    Index("ix_logs_workspace_id_level_id", "workspace_id", "level", "id"),
    Index("ix_logs_execution_id_id", "execution_id", "id"),
    Index("ix_logs_at", "at"),
    sqlite_autoincrement=True,
)

SEARCH_OBJECTS = frozenset(
    {
        "logs_fts",
        "logs_fts_data",
        "logs_fts_idx",
        "logs_fts_docsize",
        "logs_fts_config",
        "message_tsv",
        "ix_logs_message_tsv",
    }
)
"""The full-text objects migration 0008 makes beside ``logs`` (per dialect): SQLite's FTS5
table and its shadow tables; PostgreSQL's generated column and its index."""

metadata.info.setdefault("unmanaged", set()).update(SEARCH_OBJECTS)

_l = logs.c
_fts = sa.table("logs_fts", sa.column("rowid", Integer))

# ``+level``: the level, as an expression that no index covers. A search that is not by level
# alone must not be planned on ``ix_logs_workspace_id_level_id`` with a level range: SQLite
# would then sort every record of that range (hundreds of thousands) to return the newest 100,
# where the other indexes, as before that index was added, stop after 100.
_LEVEL_NOT_INDEXED: ColumnElement[int] = UnaryExpression(
    _l.level,
    operator=operators.custom_op[int]("+"),
    type_=SmallInteger(),
)

# PostgreSQL only: a generated column (migration 0008), not on the metadata.
_PG_DOCUMENT: ColumnElement[Any] = sa.literal_column("logs.message_tsv")


def fts5_query(query: LogQuery) -> str:
    """The FTS5 MATCH expression of a parsed query (words are letters and digits only)."""
    return " ".join(
        f'"{" ".join(term.tokens)}"' + (" *" if term.prefix else "") for term in query.terms
    )


def tsquery(query: LogQuery) -> str:
    """The PostgreSQL ``to_tsquery`` text of a parsed query."""
    parts: list[str] = []
    for term in query.terms:
        words = list(term.tokens)
        if term.prefix:
            words[-1] += ":*"
        parts.append("(" + " <-> ".join(words) + ")")
    return " & ".join(parts)


def _record(row: Row[Any]) -> LogRecord:
    return LogRecord(
        id=row.id,
        at=row.at,
        level=row.level,
        logger=row.logger,
        message=row.message,
        workspace_id=row.workspace_id,
        execution_id=row.execution_id,
        step_id=row.step_id,
        trace_id=row.trace_id,
        span_id=row.span_id,
        extra=row.extra or {},
    )


def _values(record: LogRecord) -> dict[str, Any]:
    r = clip_record(record)
    return {
        "at": r.at,
        "level": r.level,
        "logger": r.logger,
        "message": r.message,
        "workspace_id": r.workspace_id,
        "execution_id": r.execution_id,
        "step_id": r.step_id,
        "trace_id": r.trace_id,
        "span_id": r.span_id,
        "extra": r.extra or None,
    }


class _Filter:
    """The conditions of one search, tail or export, rendered for a connection's dialect."""

    def __init__(
        self,
        query: LogQuery,
        *,
        workspace_id: str | None,
        execution_id: str | None,
        min_level: int | None,
        since: datetime | None,
        until: datetime | None = None,
    ) -> None:
        self.query = query
        self.workspace_id = workspace_id
        self.execution_id = execution_id
        self.min_level = min_level
        self.since = since
        self.until = until

    def select(
        self,
        conn: Connection,
        *,
        newest_first: bool,
        limit: int,
        before_id: int | None = None,
        after_id: int | None = None,
    ) -> Select[Any] | None:
        """The statement, or None when nothing can match (an execution with no records)."""
        if self._by_level_only():
            return self._select_by_level(
                conn, newest_first=newest_first, limit=limit, before_id=before_id, after_id=after_id
            )
        return self._select_plain(
            conn, newest_first=newest_first, limit=limit, before_id=before_id, after_id=after_id
        )

    def _select_plain(
        self,
        conn: Connection,
        *,
        newest_first: bool,
        limit: int,
        before_id: int | None,
        after_id: int | None,
    ) -> Select[Any] | None:
        """One statement with every condition: the full-text index or the planner picks."""
        fts = conn.dialect.name == "sqlite" and bool(self.query)
        # On SQLite with a query, the FTS index drives: its rowid is what is ordered and bounded.
        key: ColumnElement[int] = _fts.c.rowid if fts else _l.id
        stmt = select(logs)
        conditions: list[ColumnElement[bool]] = []
        if fts:
            stmt = stmt.select_from(_fts.join(logs, _l.id == _fts.c.rowid))
            match = sa.literal_column("logs_fts").op("MATCH")(fts5_query(self.query))
            conditions.append(match)
            if self.execution_id is not None:
                bounds = _execution_bounds(conn, self.execution_id)
                if bounds is None:
                    return None
                conditions += [key >= bounds[0], key <= bounds[1]]
        elif self.query:
            conditions.append(
                _PG_DOCUMENT.op("@@")(
                    sa.func.to_tsquery(
                        sa.literal_column("'simple'::regconfig"), tsquery(self.query)
                    )
                )
            )
        if self.workspace_id is not None:
            conditions.append(_l.workspace_id == self.workspace_id)
        if self.execution_id is not None:
            conditions.append(_l.execution_id == self.execution_id)
        if self.min_level is not None:
            conditions.append(self.min_level <= _LEVEL_NOT_INDEXED)
        if self.since is not None:
            conditions.append(_l.at >= self.since)
        if self.until is not None:
            conditions.append(_l.at < self.until)
        if before_id is not None:
            conditions.append(key < before_id)
        if after_id is not None:
            conditions.append(key > after_id)
        order = key.desc() if newest_first else key.asc()
        return stmt.where(*conditions).order_by(order).limit(limit)

    def _by_level_only(self) -> bool:
        """Filtered by level, and by nothing else that has an index of its own (or by words).

        Walking the workspace's records newest first finds a common level at once but reads
        every record of the workspace when none matches (300-400 ms on a million records);
        sorting the level range of ``ix_logs_workspace_id_level_id`` is quick for a rare
        level and slow for a common one. Reading each level present newest first from that
        index, as `_select_by_level` does, is quick for both.
        """
        return (
            not self.query
            and self.execution_id is None  # an execution's records are few: its index is best
            and self.since is None  # a time window: ``ix_logs_at`` bounds it
            and self.until is None
        )

    def _select_by_level(
        self,
        conn: Connection,
        *,
        newest_first: bool,
        limit: int,
        before_id: int | None,
        after_id: int | None,
    ) -> Select[Any] | None:
        """The first `limit` records of each level present, merged and cut to `limit`.

        Each part is one range of ``(workspace_id, level, id)`` read in id order, so it stops
        after `limit` rows (or at once when the level has none left in the page).
        """
        levels = (
            None
            if self.workspace_id is None or self.min_level is None
            else _levels_present(conn, self.workspace_id, self.min_level)
        )
        if levels is None:
            return self._select_plain(
                conn, newest_first=newest_first, limit=limit, before_id=before_id, after_id=after_id
            )
        if not levels:
            return None
        parts: list[Select[Any]] = []
        for level in levels:
            conditions = [_l.workspace_id == self.workspace_id, _l.level == level]
            if before_id is not None:
                conditions.append(_l.id < before_id)
            if after_id is not None:
                conditions.append(_l.id > after_id)
            order = _l.id.desc() if newest_first else _l.id.asc()
            part = select(logs).where(*conditions).order_by(order).limit(limit).subquery()
            parts.append(select(part))
        merged = (parts[0] if len(parts) == 1 else sa.union_all(*parts)).subquery()
        order = merged.c.id.desc() if newest_first else merged.c.id.asc()
        return select(merged).order_by(order).limit(limit)


_MAX_LEVELS = 10
"""Past this many distinct levels at or above a filter, a level search is a plain one."""


def _levels_present(conn: Connection, workspace_id: str, min_level: int) -> list[int] | None:
    """The levels at or above `min_level` that `workspace_id` has records of, ascending.

    One index seek per level (``min(level)`` above the last one found): the standard levels
    are five, so a handful of seeks. None when there are more than `_MAX_LEVELS` (records
    logged at many custom levels): the caller then makes a plain query.
    """
    found: list[int] = []
    condition: ColumnElement[bool] = _l.level >= min_level
    while len(found) <= _MAX_LEVELS:
        stmt = select(sa.func.min(_l.level)).where(_l.workspace_id == workspace_id, condition)
        level = conn.execute(stmt).scalar()
        if level is None:
            return found
        found.append(int(level))
        condition = _l.level > level
    return None


def _execution_bounds(conn: Connection, execution_id: str) -> tuple[int, int] | None:
    # Two statements: SQLite answers a lone min() or max() from the index alone.
    where = _l.execution_id == execution_id
    low = conn.execute(select(sa.func.min(_l.id)).where(where)).scalar()
    if low is None:
        return None
    high = conn.execute(select(sa.func.max(_l.id)).where(where)).scalar_one()
    return int(low), int(high)


def _fetch(
    flt: _Filter,
    *,
    newest_first: bool,
    limit: int,
    before_id: int | None = None,
    after_id: int | None = None,
) -> Any:
    def work(conn: Connection) -> list[LogRecord]:
        stmt = flt.select(
            conn, newest_first=newest_first, limit=limit, before_id=before_id, after_id=after_id
        )
        if stmt is None:
            return []
        return [_record(row) for row in conn.execute(stmt)]

    return work


class SqlLogStore:
    """A `LogStore` in the ``logs`` table (migration 0008)."""

    def __init__(self, db: Database, *, purge_batch: int = 5000) -> None:
        """Use `db`; `purge` deletes `purge_batch` records per transaction."""
        self._db = db
        self._purge_batch = purge_batch

    async def add(self, records: Sequence[LogRecord]) -> int:
        """Insert records in one transaction (the FTS triggers index them in it)."""
        if not records:
            return 0
        rows = [_values(r) for r in records]
        await self._db.transaction(lambda conn: conn.execute(insert(logs), rows))
        return len(rows)

    async def search(
        self,
        query: str = "",
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        since: datetime | None = None,
        limit: int = 100,
        before_id: int | None = None,
    ) -> list[LogRecord]:
        """Matching records, newest first."""
        check_limit(limit)
        flt = _Filter(
            parse_query(query),
            workspace_id=workspace_id,
            execution_id=execution_id,
            min_level=min_level,
            since=since,
        )
        work = _fetch(flt, newest_first=True, limit=limit, before_id=before_id)
        result: list[LogRecord] = await self._db.transaction(work)
        return result

    async def tail(
        self,
        after_id: int,
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        limit: int = 500,
    ) -> list[LogRecord]:
        """Records after `after_id`, oldest first."""
        check_limit(limit)
        flt = _Filter(
            LogQuery(),
            workspace_id=workspace_id,
            execution_id=execution_id,
            min_level=min_level,
            since=None,
        )
        result: list[LogRecord] = await self._db.transaction(
            _fetch(flt, newest_first=False, limit=limit, after_id=after_id)
        )
        return result

    async def export(
        self,
        query: str = "",
        *,
        workspace_id: str | None,
        execution_id: str | None = None,
        min_level: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        batch_size: int = 1000,
    ) -> AsyncIterator[LogRecord]:
        """Matching records, oldest first, one transaction per batch (keyset paging)."""
        flt = _Filter(
            parse_query(query),
            workspace_id=workspace_id,
            execution_id=execution_id,
            min_level=min_level,
            since=since,
            until=until,
        )
        after = 0
        while True:
            batch: list[LogRecord] = await self._db.transaction(
                _fetch(flt, newest_first=False, limit=batch_size, after_id=after)
            )
            for record in batch:
                yield record
            if len(batch) < batch_size:
                return
            after = batch[-1].id

    async def purge(self, before: datetime) -> int:
        """Delete records older than `before`, `purge_batch` per transaction.

        Small transactions keep the database free for the executor between them (the FTS
        index is updated row by row as records go).
        """
        chunk = select(_l.id).where(_l.at < before).limit(self._purge_batch)
        stmt = delete(logs).where(_l.id.in_(chunk.scalar_subquery()))
        total = 0
        while True:
            n: int = await self._db.transaction(lambda conn: conn.execute(stmt).rowcount)
            total += n
            if n < self._purge_batch:
                return total
