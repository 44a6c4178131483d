"""`LockStore` on SQLAlchemy: one ``resource_locks`` row per resource ever locked.

The row keeps the resource's last fencing token after release (owner and expiry NULL), so
tokens rise for ever. Every operation is a single conditional statement in its own
transaction, so two processes racing for one resource cannot both win:

- acquire is ``INSERT ... ON CONFLICT (resource) DO UPDATE SET token = token + 1 ... WHERE
  <free, expired or ours> RETURNING token``. PostgreSQL locks the conflicting row and
  evaluates the WHERE on its latest committed version (a racer waits, then sees it taken);
  SQLite has a single writer, and the statement is the transaction's first, so it never
  acts on a stale snapshot.
- renew and release are ``UPDATE ... WHERE owner = ? AND token = ?`` (renew also requires
  the lease unexpired): a lost lease matches no row.

Time comes from the caller's clock, not the database's, so every process sharing a
database must keep its clock in sync (NTP) to within a small fraction of the lease TTL.
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
    String,
    Table,
    and_,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from baton.errors import StoreError
from baton.store.locks import Clock, Lease, lease_deadline, utcnow
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlLockStore", "fence_holds", "resource_locks"]

resource_locks = Table(
    "resource_locks",
    metadata,
    Column("resource", String(512), primary_key=True),
    # NULL while free; the row stays so that `token` keeps rising across releases.
    Column("owner", String(200)),
    # The last fencing token issued for the resource.
    Column("token", BigInteger, nullable=False),
    Column("expires_at", UtcDateTime),
)

_rl = resource_locks.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(
            f"the lock store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def fence_holds(conn: Connection, resource: str, token: int, now: datetime) -> bool:
    """Whether `token` is the current, unexpired holder's, inside the caller's transaction.

    A protected SQL store calls this in the transaction of its write, so the check and the
    write commit together. On PostgreSQL the row is locked ``FOR SHARE`` until that commit,
    so a competing acquire waits for the write instead of slipping in between.
    """
    query = select(_rl.token).where(
        _rl.resource == resource,
        _rl.token == token,
        _rl.owner.is_not(None),
        _rl.expires_at > now,
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return conn.execute(query).first() is not None


def _acquire(
    conn: Connection, resource: str, owner: str, now: datetime, expires_at: datetime
) -> int | None:
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(resource_locks).values(
        resource=resource, owner=owner, token=1, expires_at=expires_at
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=[_rl.resource],
        set_={"owner": owner, "token": _rl.token + 1, "expires_at": expires_at},
        where=or_(_rl.owner.is_(None), _rl.expires_at <= now, _rl.owner == owner),
    ).returning(_rl.token)
    token: Any = conn.execute(stmt).scalar()
    return None if token is None else int(token)


class SqlLockStore:
    """A `LockStore` in the ``resource_locks`` table, shared by every process on the database."""

    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        """Use `db`, reading the time from `clock` (inject a fake one to test expiry)."""
        self._db = db
        self._clock = clock

    async def acquire(self, resource: str, owner: str, ttl_s: float) -> Lease | None:
        """Take `resource` if free, expired or `owner`'s; None while another holds it."""
        now = self._clock()
        expires_at = lease_deadline(now, ttl_s)
        with _store_errors("acquire a lock"):
            token = await self._db.transaction(
                lambda conn: _acquire(conn, resource, owner, now, expires_at)
            )
        if token is None:
            return None
        return Lease(resource=resource, owner=owner, token=token, expires_at=expires_at)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """Extend `lease`, keeping its token; None if it is lost."""
        now = self._clock()
        expires_at = lease_deadline(now, ttl_s)
        stmt = (
            update(resource_locks)
            .where(_is_current(lease), _rl.expires_at > now)
            .values(expires_at=expires_at)
        )
        with _store_errors("renew a lock"):
            renewed = await self._db.transaction(lambda conn: conn.execute(stmt).rowcount == 1)
        if not renewed:
            return None
        return Lease(
            resource=lease.resource, owner=lease.owner, token=lease.token, expires_at=expires_at
        )

    async def release(self, lease: Lease) -> None:
        """Free the lock if `lease` is still the current grant (the token stays in the row)."""
        stmt = update(resource_locks).where(_is_current(lease)).values(owner=None, expires_at=None)
        with _store_errors("release a lock"):
            await self._db.transaction(lambda conn: conn.execute(stmt))

    async def holder(self, resource: str) -> Lease | None:
        """The current unexpired lease on `resource`, or None."""
        query = select(_rl.owner, _rl.token, _rl.expires_at).where(
            _rl.resource == resource, _rl.owner.is_not(None), _rl.expires_at > self._clock()
        )
        with _store_errors("read a lock"):
            row = await self._db.transaction(lambda conn: conn.execute(query).first())
        if row is None:
            return None
        return Lease(resource=resource, owner=row.owner, token=row.token, expires_at=row.expires_at)

    async def check_fence(self, resource: str, token: int) -> bool:
        """Whether `token` is the current, unexpired holder's."""
        now = self._clock()
        with _store_errors("check a fencing token"):
            return await self._db.transaction(lambda conn: fence_holds(conn, resource, token, now))


def _is_current(lease: Lease) -> Any:
    return and_(_rl.resource == lease.resource, _rl.owner == lease.owner, _rl.token == lease.token)
