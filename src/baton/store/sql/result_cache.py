"""`ResultCacheStore` on SQLAlchemy: the ``cache_entries`` table (migration 0013).

The primary key is the entry's SHA-256 key, so a lookup is one ``UPDATE ... RETURNING`` by
primary key: it counts the hit and reads the output in one round trip, and an expired entry
matches nothing. `put` is an upsert (``ON CONFLICT``, which SQLite and PostgreSQL both know).
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Column, Connection, Index, Integer, String, Table, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from baton.errors import StoreError
from baton.store.result_cache import CacheEntry, CacheStats, stats_of
from baton.store.sql.database import Database
from baton.store.sql.tables import Json, UtcDateTime, metadata

__all__ = ["SqlResultCacheStore", "cache_entries"]

cache_entries = Table(
    "cache_entries",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("agent", String(200), nullable=False),
    Column("output", Json, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("hits", Integer, nullable=False),
    Column("last_hit_at", UtcDateTime),
    # `stats` and `clear` by workspace (and agent); `purge_expired` by expiry.
    Index("ix_cache_entries_workspace_id_agent", "workspace_id", "agent"),
    Index("ix_cache_entries_expires_at", "expires_at"),
)

_c = cache_entries.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(
            f"the cache store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class SqlResultCacheStore:
    """`ResultCacheStore` in the ``cache_entries`` table."""

    def __init__(self, db: Database) -> None:
        """Keep entries in `db` (its schema made by `create_schema`)."""
        self._db = db

    async def get(self, key: str, now: datetime) -> dict[str, Any] | None:
        """See `ResultCacheStore.get`."""
        stmt = (
            update(cache_entries)
            .where(_c.key == key, _c.expires_at > now)
            .values(hits=_c.hits + 1, last_hit_at=now)
            .returning(_c.output)
        )

        def work(conn: Connection) -> dict[str, Any] | None:
            return conn.execute(stmt).scalar_one_or_none()

        with _store_errors("read an entry"):
            return await self._db.transaction(work)

    async def put(self, key: str, entry: CacheEntry) -> None:
        """See `ResultCacheStore.put`."""
        row = {
            "key": key,
            "workspace_id": entry.workspace_id,
            "agent": entry.agent,
            "output": entry.output,
            "created_at": entry.created_at,
            "expires_at": entry.expires_at,
            "hits": entry.hits,
            "last_hit_at": entry.last_hit_at,
        }

        def work(conn: Connection) -> None:
            stmt = _insert(conn)(cache_entries).values(row)
            changed = {k: v for k, v in row.items() if k != "key"}
            conn.execute(stmt.on_conflict_do_update(index_elements=[_c.key], set_=changed))

        with _store_errors("keep an entry"):
            await self._db.transaction(work)

    async def purge_expired(self, now: datetime) -> int:
        """See `ResultCacheStore.purge_expired`."""
        stmt = delete(cache_entries).where(_c.expires_at <= now)

        def work(conn: Connection) -> int:
            return conn.execute(stmt).rowcount

        with _store_errors("purge expired entries"):
            return await self._db.transaction(work)

    async def clear(self, workspace_id: str, agent: str | None = None) -> int:
        """See `ResultCacheStore.clear`."""
        stmt = delete(cache_entries).where(_c.workspace_id == workspace_id)
        if agent is not None:
            stmt = stmt.where(_c.agent == agent)

        def work(conn: Connection) -> int:
            return conn.execute(stmt).rowcount

        with _store_errors("clear entries"):
            return await self._db.transaction(work)

    async def stats(self, workspace_id: str) -> CacheStats:
        """See `ResultCacheStore.stats`."""
        stmt = (
            select(_c.agent, sa.func.count().label("entries"), sa.func.sum(_c.hits).label("hits"))
            .where(_c.workspace_id == workspace_id)
            .group_by(_c.agent)
        )

        def work(conn: Connection) -> CacheStats:
            counts = {
                row.agent: (int(row.entries), int(row.hits or 0)) for row in conn.execute(stmt)
            }
            return stats_of(counts)

        with _store_errors("count entries"):
            return await self._db.transaction(work)
