"""`AdmissionStore` on SQLAlchemy: one ``rate_limit_admissions`` row per admitted call.

`SqlAdmissionStore.try_admit` runs in one transaction, and two processes racing for the last
unit of a key's quota cannot both get it:

- the admission is a single ``INSERT ... SELECT :key, :now WHERE (SELECT count(*) ... in
  the window) < :requests``, so the count and the insert are one statement;
- PostgreSQL: the transaction first takes ``pg_advisory_xact_lock`` on the key (held until
  commit), so racers for one key run one after the other, each counting what the previous
  one committed (READ COMMITTED takes a new snapshot per statement);
- SQLite: the statement is the transaction's first and a write, so SQLite takes the
  database's write lock before it reads anything (as ``BEGIN IMMEDIATE`` would), waiting
  out other processes under the busy timeout; one writer at a time, never a stale count.

When refused, the wait is read in the same transaction; rows of the key that have left the
window are deleted on the way. Time comes from the caller, as in `baton.store.sql.locks`.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    delete,
    func,
    insert,
    literal,
    select,
    text,
)
from sqlalchemy.exc import DBAPIError, OperationalError

from baton.errors import StoreError, UsageError
from baton.store.rate_limits import window_start
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlAdmissionStore", "rate_limit_admissions"]

rate_limit_admissions = Table(
    "rate_limit_admissions",
    metadata,
    # SQLite autoincrements only an INTEGER primary key.
    Column(
        "id",
        BigInteger().with_variant(Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    Column("key", String(512), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_rate_limit_admissions_key_at", "key", "at"),
)

_ra = rate_limit_admissions.c

# First key of the two-key pg_advisory_xact_lock (a key space apart from one-key locks).
_PG_LOCK_SPACE = 0x62726C6D  # "brlm"


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(
            f"the rate-limit store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _try_admit(
    conn: Connection, key: str, requests: int, now: datetime, start: datetime
) -> float | None:
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
            {"space": _PG_LOCK_SPACE, "key": key},
        )
    in_window = (_ra.key == key) & (_ra.at > start)
    count = select(func.count()).select_from(rate_limit_admissions).where(in_window)
    admit = insert(rate_limit_admissions).from_select(
        ["key", "at"],
        select(literal(key, String(512)), literal(now, UtcDateTime)).where(
            count.scalar_subquery() < requests
        ),
    )
    admitted = conn.execute(admit).rowcount == 1
    wait_s: float | None = None
    if not admitted:
        # min() has the column's type, so this reads back as aware UTC on both backends.
        oldest: Any = conn.execute(select(func.min(_ra.at)).where(in_window)).scalar()
        assert isinstance(oldest, datetime), "a full window has an oldest admission"
        wait_s = (oldest - start).total_seconds()
    conn.execute(delete(rate_limit_admissions).where(_ra.key == key, _ra.at <= start))
    return wait_s


class SqlAdmissionStore:
    """An `AdmissionStore` in ``rate_limit_admissions``, shared by every process on the database."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def try_admit(
        self, key: str, requests: int, window_s: float, now: datetime
    ) -> float | None:
        """Admit one call for `key` if its window has room; else the seconds to wait."""
        start = window_start(now, requests, window_s)
        with _store_errors("admit a call"):
            return await self._db.transaction(
                lambda conn: _try_admit(conn, key, requests, now, start)
            )

    async def prune(self, before: datetime) -> int:
        """Forget every admission (of every key) made before `before`."""
        if before.tzinfo is None:
            raise UsageError("prune needs an aware datetime", hint="use aware UTC")
        stmt = delete(rate_limit_admissions).where(_ra.at < before)
        with _store_errors("prune admissions"):
            return await self._db.transaction(lambda conn: int(conn.execute(stmt).rowcount))
