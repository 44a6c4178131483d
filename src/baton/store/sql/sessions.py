"""`SessionStore` on SQLAlchemy: the ``sessions`` table.

The primary key is the SHA-256 of the session token, so authenticating a request is one
lookup by primary key. A session references its API key (``key_id``), which is what makes
revoking the key end it; the reference has no ``ON DELETE``: keys are never deleted, only
revoked.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, Row, String, Table, delete, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError, UsageError
from baton.store.sessions import Session
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlSessionStore", "sessions"]

sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("key_id", String(40), ForeignKey("api_keys.id"), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Index("ix_sessions_key_id", "key_id"),
    Index("ix_sessions_expires_at", "expires_at"),
)

_s = sessions.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise UsageError(f"the session store refused to {action}: {exc.orig}") from exc
    except DBAPIError as exc:
        raise StoreError(
            f"the session store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _session(row: Row[Any]) -> Session:
    return Session(
        token_hash=row.token_hash,
        key_id=row.key_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
    )


class SqlSessionStore:
    """A `SessionStore` in the ``sessions`` table."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def create_session(self, session: Session) -> Session:
        """Store a new session."""
        stmt = insert(sessions).values(
            token_hash=session.token_hash,
            key_id=session.key_id,
            created_at=session.created_at,
            expires_at=session.expires_at,
        )
        with _store_errors("open a session"):
            await self._db.transaction(lambda conn: conn.execute(stmt))
        return session

    async def get_session(self, token_hash: str) -> Session | None:
        """The session with that token hash, or None."""
        query = select(sessions).where(_s.token_hash == token_hash)
        with _store_errors("read a session"):
            row = await self._db.transaction(lambda conn: conn.execute(query).first())
        return None if row is None else _session(row)

    async def delete_session(self, token_hash: str) -> bool:
        """End a session; True if there was one."""
        stmt = delete(sessions).where(_s.token_hash == token_hash)
        with _store_errors("end a session"):
            count = await self._db.transaction(lambda conn: conn.execute(stmt).rowcount)
        return count > 0

    async def purge_sessions(self, before: datetime) -> int:
        """Delete the sessions that expired before `before`."""
        stmt = delete(sessions).where(_s.expires_at < before)
        with _store_errors("purge expired sessions"):
            return await self._db.transaction(lambda conn: int(conn.execute(stmt).rowcount))
