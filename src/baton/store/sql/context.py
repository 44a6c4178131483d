"""`ContextStore` on SQLAlchemy, run by a `Database`: SQLite by default, PostgreSQL by URL.

Every write is one statement, so compare-and-set needs no lock of its own:

- ``set`` is an insert-on-conflict-update that bumps the version in place;
- ``compare_and_set`` with an expected version is an ``UPDATE ... WHERE version = :expected``
  (PostgreSQL re-checks the condition on the row it waited for, SQLite has one writer), so of
  two writers expecting the same version exactly one changes the row;
- ``compare_and_set`` expecting no entry is an insert whose conflict updates only an expired
  row.

The workspace-wide scope is stored with an empty ``execution_id`` (a primary key column cannot
be NULL). Expiry is compared with the store's clock, not the server's, so tests can move time.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    ColumnElement,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    and_,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, OperationalError

from baton.errors import StoreError
from baton.store.context import (
    Clock,
    ContextScope,
    Entry,
    ProcessSecretVault,
    SecretVault,
    StoredValue,
    check_key,
    decode_value,
    encode_value,
    expiry,
    system_clock,
)
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlContextStore", "shared_context"]

shared_context = Table(
    "shared_context",
    metadata,
    Column("workspace_id", String(64), primary_key=True),
    # "" for the workspace-wide scope.
    Column("execution_id", String(40), primary_key=True),
    Column("key", String(255), primary_key=True),
    # JSON text of the value; for a secret, the vault's opaque token, never the clear value.
    Column("value", Text, nullable=False),
    Column("secret", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index("ix_shared_context_expires_at", "expires_at"),
)

_c = shared_context.c
_PK = ["workspace_id", "execution_id", "key"]


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except DBAPIError as exc:
        raise StoreError(
            f"the context store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _where(scope: ContextScope, key: str) -> ColumnElement[bool]:
    return and_(
        _c.workspace_id == scope.workspace_id,
        _c.execution_id == (scope.execution_id or ""),
        _c.key == key,
    )


def _live(now: datetime) -> ColumnElement[bool]:
    return or_(_c.expires_at.is_(None), _c.expires_at > now)


def _insert(conn: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT (both SQLite and PostgreSQL do)."""
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


class SqlContextStore:
    """A `ContextStore` in the ``shared_context`` table."""

    def __init__(
        self, db: Database, *, clock: Clock = system_clock, vault: SecretVault | None = None
    ) -> None:
        """Use `db`, `clock` for TTLs and `vault` for secrets (a `ProcessSecretVault`)."""
        self._db = db
        self._clock = clock
        self._vault: SecretVault = vault if vault is not None else ProcessSecretVault()

    async def get(self, scope: ContextScope, key: str) -> Entry | None:
        """The live entry at `key`, or None (missing or expired)."""
        now = self._clock()

        def work(conn: Connection) -> StoredValue | None:
            row = conn.execute(
                select(_c.value, _c.version, _c.expires_at, _c.secret).where(
                    _where(scope, key), _live(now)
                )
            ).first()
            if row is None:
                return None
            return StoredValue(
                text=row.value, version=row.version, expires_at=row.expires_at, secret=row.secret
            )

        with _store_errors("read a context entry"):
            stored = await self._db.transaction(work)
        return None if stored is None else self._entry(scope, key, stored)

    async def set(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        *,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry:
        """Write `value` unconditionally; return the entry with its new version."""
        stored, row = self._prepare(scope, key, value, ttl_s, secret)

        def work(conn: Connection) -> int:
            stmt = _insert(conn)(shared_context).values(row)
            stmt = stmt.on_conflict_do_update(
                index_elements=_PK, set_=self._overwrite(stmt)
            ).returning(_c.version)
            return conn.execute(stmt).scalar_one()

        with _store_errors("write a context entry"):
            version = await self._db.transaction(work)
        return self._entry(scope, key, stored, version)

    async def compare_and_set(
        self,
        scope: ContextScope,
        key: str,
        value: Any,
        *,
        expected_version: int | None,
        ttl_s: float | None = None,
        secret: bool = False,
    ) -> Entry | None:
        """Write `value` only if the live entry is at `expected_version`."""
        stored, row = self._prepare(scope, key, value, ttl_s, secret)
        now = row["updated_at"]

        def create(conn: Connection) -> int | None:
            stmt = _insert(conn)(shared_context).values(row)
            stmt = stmt.on_conflict_do_update(
                index_elements=_PK,
                set_=self._overwrite(stmt),
                # Only an expired entry may be replaced: a live one means "exists".
                where=and_(_c.expires_at.is_not(None), _c.expires_at <= now),
            ).returning(_c.version)
            return conn.execute(stmt).scalar_one_or_none()

        def swap(conn: Connection) -> int | None:
            return conn.execute(
                update(shared_context)
                .where(_where(scope, key), _c.version == expected_version, _live(now))
                .values(
                    value=row["value"],
                    secret=row["secret"],
                    version=_c.version + 1,
                    expires_at=row["expires_at"],
                    updated_at=now,
                )
                .returning(_c.version)
            ).scalar_one_or_none()

        with _store_errors("write a context entry"):
            version = await self._db.transaction(create if expected_version is None else swap)
        return None if version is None else self._entry(scope, key, stored, version)

    async def delete(self, scope: ContextScope, key: str) -> bool:
        """Remove `key`; return whether a live entry was there."""
        now = self._clock()

        def work(conn: Connection) -> bool:
            gone = conn.execute(
                delete(shared_context).where(_where(scope, key)).returning(_c.expires_at)
            ).all()
            return any(r.expires_at is None or r.expires_at > now for r in gone)

        with _store_errors("delete a context entry"):
            return await self._db.transaction(work)

    async def keys(self, scope: ContextScope, prefix: str = "") -> list[str]:
        """Keys of live entries starting with `prefix`, sorted."""
        now = self._clock()

        def work(conn: Connection) -> list[str]:
            rows = conn.execute(
                select(_c.key).where(
                    _c.workspace_id == scope.workspace_id,
                    _c.execution_id == (scope.execution_id or ""),
                    _c.key.startswith(prefix, autoescape=True),
                    _live(now),
                )
            ).scalars()
            return list(rows)

        with _store_errors("list context keys"):
            found = await self._db.transaction(work)
        # SQLite's LIKE ignores ASCII case, and collations sort differently: settle it here.
        return sorted(k for k in found if k.startswith(prefix))

    async def purge_expired(self) -> int:
        """Remove every expired entry of every scope; return how many."""
        now = self._clock()

        def work(conn: Connection) -> int:
            return conn.execute(
                delete(shared_context).where(_c.expires_at.is_not(None), _c.expires_at <= now)
            ).rowcount

        with _store_errors("purge expired context entries"):
            return await self._db.transaction(work)

    def _prepare(
        self, scope: ContextScope, key: str, value: Any, ttl_s: float | None, secret: bool
    ) -> tuple[StoredValue, dict[str, Any]]:
        check_key(key)
        now = self._clock()
        expires_at = expiry(now, ttl_s)
        text, secret = encode_value(value, secret=secret, vault=self._vault)
        stored = StoredValue(text=text, version=1, expires_at=expires_at, secret=secret)
        row: dict[str, Any] = {
            "workspace_id": scope.workspace_id,
            "execution_id": scope.execution_id or "",
            "key": key,
            "value": text,
            "secret": secret,
            "version": 1,
            "expires_at": expires_at,
            "updated_at": now,
        }
        return stored, row

    @staticmethod
    def _overwrite(stmt: Any) -> dict[str, Any]:
        new = stmt.excluded
        return {
            "value": new.value,
            "secret": new.secret,
            "version": _c.version + 1,
            "expires_at": new.expires_at,
            "updated_at": new.updated_at,
        }

    def _entry(
        self, scope: ContextScope, key: str, stored: StoredValue, version: int | None = None
    ) -> Entry:
        return Entry(
            scope=scope,
            key=key,
            value=decode_value(stored, key=key, vault=self._vault),
            version=stored.version if version is None else version,
            expires_at=stored.expires_at,
            secret=stored.secret,
        )
