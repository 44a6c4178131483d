"""`TenancyStore` on SQLAlchemy: the ``workspaces``, ``users`` and ``api_keys`` tables.

Scoping is in the SQL: every statement of a workspace-scoped method has ``workspace_id = :ws``
in its ``WHERE``, so a row of another workspace is never read, changed or even confirmed to
exist. The schema backs it up: a key's (workspace, user) pair references the user's own pair,
so a key cannot belong to a user of another workspace.

Role changes and disabling read the workspace's other admins and write in one transaction;
on PostgreSQL that transaction first locks the workspace row (``SELECT ... FOR UPDATE``), so
two admins demoting each other at once are serialised and the second is refused. SQLite has
one writer at a time, and a writer whose read went stale fails rather than commits.
"""

from __future__ import annotations

import builtins
from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    Row,
    String,
    Table,
    UniqueConstraint,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError, UsageError
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata
from baton.store.tenancy import (
    ApiKey,
    Role,
    User,
    UserKind,
    Workspace,
    check_keeps_an_admin,
    check_new_user,
    check_role_change,
    key_not_found,
    user_disabled,
    user_not_found,
    workspace_not_found,
)

__all__ = ["SqlTenancyStore", "api_keys", "users", "workspaces"]

workspaces = Table(
    "workspaces",
    metadata,
    # 64 like every workspace_id column (executions, approvals...), which hold these ids.
    Column("id", String(64), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("role", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("disabled", Boolean, nullable=False, default=False),
    ForeignKeyConstraint(
        ["workspace_id"], ["workspaces.id"], name="fk_users_workspace_id_workspaces"
    ),
    # What other tables reference, so that their rows and the user share a workspace; its
    # index also serves "the users of a workspace".
    UniqueConstraint("workspace_id", "id", name="uq_users_workspace_id_id"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime),
    Column("revoked_at", UtcDateTime),
    Column("last_used_at", UtcDateTime),
    ForeignKeyConstraint(
        ["workspace_id", "user_id"],
        ["users.workspace_id", "users.id"],
        name="fk_api_keys_workspace_id_users",
    ),
    Index("ix_api_keys_workspace_id_user_id", "workspace_id", "user_id"),
)

_w = workspaces.c
_u = users.c
_k = api_keys.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise UsageError(f"the tenancy store refused to {action}: {exc.orig}") from exc
    except DBAPIError as exc:
        raise StoreError(
            f"the tenancy store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _workspace(row: Row[Any]) -> Workspace:
    return Workspace(id=row.id, name=row.name, created_at=row.created_at)


def _user(row: Row[Any]) -> User:
    kind: UserKind = "service" if row.kind == "service" else "user"
    return User(
        id=row.id,
        workspace_id=row.workspace_id,
        name=row.name,
        kind=kind,
        role=Role(row.role),
        created_at=row.created_at,
        disabled=bool(row.disabled),
    )


def _key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        workspace_id=row.workspace_id,
        user_id=row.user_id,
        name=row.name,
        secret_hash=row.secret_hash,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _lock_workspace(conn: Connection, workspace_id: str) -> None:
    # Serialises membership changes of one workspace on PostgreSQL (SQLite renders no
    # FOR UPDATE: it has one writer anyway).
    conn.execute(select(_w.id).where(_w.id == workspace_id).with_for_update()).first()


def _get_user(conn: Connection, workspace_id: str, user_id: str) -> User:
    query = select(users).where(_u.workspace_id == workspace_id, _u.id == user_id)
    row = conn.execute(query).first()
    if row is None:
        raise user_not_found(user_id)
    return _user(row)


def _other_active_admins(conn: Connection, user: User) -> int:
    query = select(func.count()).where(
        _u.workspace_id == user.workspace_id,
        _u.id != user.id,
        _u.role == Role.ADMIN.value,
        _u.disabled.is_(False),
    )
    return int(conn.execute(query).scalar_one())


class SqlTenancyStore:
    """A `TenancyStore` in the ``workspaces``, ``users`` and ``api_keys`` tables."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def create_workspace(self, workspace: Workspace) -> Workspace:
        """Store a new workspace."""
        stmt = insert(workspaces).values(
            id=workspace.id, name=workspace.name, created_at=workspace.created_at
        )
        with _store_errors("create a workspace"):
            await self._db.transaction(lambda conn: conn.execute(stmt))
        return workspace

    async def get_workspace(self, workspace_id: str) -> Workspace:
        """The workspace with that id (`NotFoundError` if none)."""
        query = select(workspaces).where(_w.id == workspace_id)
        with _store_errors("read a workspace"):
            row = await self._db.transaction(lambda conn: conn.execute(query).first())
        if row is None:
            raise workspace_not_found(workspace_id)
        return _workspace(row)

    async def list_workspaces(self) -> builtins.list[Workspace]:
        """Every workspace, oldest first."""
        query = select(workspaces).order_by(_w.created_at, _w.id)
        with _store_errors("list workspaces"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_workspace(row) for row in rows]

    async def count_users(self) -> int:
        """How many users exist, in every workspace."""
        query = select(func.count()).select_from(users)
        with _store_errors("count users"):
            return await self._db.transaction(lambda conn: int(conn.execute(query).scalar_one()))

    async def create_user(self, user: User) -> User:
        """Store a new user of an existing workspace."""
        check_new_user(user)
        stmt = insert(users).values(
            id=user.id,
            workspace_id=user.workspace_id,
            name=user.name,
            kind=user.kind,
            role=user.role.value,
            created_at=user.created_at,
            disabled=user.disabled,
        )

        def work(conn: Connection) -> None:
            # Asked first so a missing workspace is "not found", not a constraint message.
            if conn.execute(select(_w.id).where(_w.id == user.workspace_id)).first() is None:
                raise workspace_not_found(user.workspace_id)
            conn.execute(stmt)

        with _store_errors("create a user"):
            await self._db.transaction(work)
        return user

    async def get_user(self, workspace_id: str, user_id: str) -> User:
        """The user with that id in that workspace (`NotFoundError` otherwise)."""
        with _store_errors("read a user"):
            return await self._db.transaction(lambda conn: _get_user(conn, workspace_id, user_id))

    async def list_users(self, workspace_id: str) -> builtins.list[User]:
        """The workspace's users, oldest first."""
        query = select(users).where(_u.workspace_id == workspace_id).order_by(_u.created_at, _u.id)
        with _store_errors("list users"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_user(row) for row in rows]

    async def update_user_role(self, workspace_id: str, user_id: str, role: Role) -> User:
        """Give a user another role, keeping an admin in the workspace."""

        def work(conn: Connection) -> User:
            _lock_workspace(conn, workspace_id)
            user = _get_user(conn, workspace_id, user_id)
            check_role_change(user, role, _other_active_admins(conn, user))
            conn.execute(
                update(users)
                .where(_u.workspace_id == workspace_id, _u.id == user_id)
                .values(role=role.value)
            )
            return _get_user(conn, workspace_id, user_id)

        with _store_errors("change a user's role"):
            return await self._db.transaction(work)

    async def disable_user(self, workspace_id: str, user_id: str, at: datetime) -> User:
        """Disable a user and revoke their keys, keeping an admin in the workspace."""

        def work(conn: Connection) -> User:
            _lock_workspace(conn, workspace_id)
            user = _get_user(conn, workspace_id, user_id)
            check_keeps_an_admin(user, _other_active_admins(conn, user))
            conn.execute(
                update(users)
                .where(_u.workspace_id == workspace_id, _u.id == user_id)
                .values(disabled=True)
            )
            conn.execute(
                update(api_keys)
                .where(
                    _k.workspace_id == workspace_id,
                    _k.user_id == user_id,
                    _k.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
            return _get_user(conn, workspace_id, user_id)

        with _store_errors("disable a user"):
            return await self._db.transaction(work)

    async def create_key(self, key: ApiKey) -> ApiKey:
        """Store a new key of an active user of the key's workspace."""
        stmt = insert(api_keys).values(
            id=key.id,
            workspace_id=key.workspace_id,
            user_id=key.user_id,
            name=key.name,
            secret_hash=key.secret_hash,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
            last_used_at=key.last_used_at,
        )

        def work(conn: Connection) -> None:
            user = _get_user(conn, key.workspace_id, key.user_id)
            if user.disabled:
                raise user_disabled(user)
            conn.execute(stmt)

        with _store_errors("create an API key"):
            await self._db.transaction(work)
        return key

    async def get_key(self, key_id: str) -> ApiKey | None:
        """The key with that id, in any workspace."""
        query = select(api_keys).where(_k.id == key_id)
        with _store_errors("read an API key"):
            row = await self._db.transaction(lambda conn: conn.execute(query).first())
        return None if row is None else _key(row)

    async def list_keys(
        self, workspace_id: str, user_id: str | None = None
    ) -> builtins.list[ApiKey]:
        """The workspace's keys (or one user's there), oldest first."""
        query = select(api_keys).where(_k.workspace_id == workspace_id)
        if user_id is not None:
            query = query.where(_k.user_id == user_id)
        query = query.order_by(_k.created_at, _k.id)
        with _store_errors("list API keys"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_key(row) for row in rows]

    async def revoke_key(self, workspace_id: str, key_id: str, at: datetime) -> ApiKey:
        """Revoke a key of the workspace (once: the first time is kept)."""
        scoped = (_k.workspace_id == workspace_id, _k.id == key_id)

        def work(conn: Connection) -> ApiKey:
            conn.execute(
                update(api_keys).where(*scoped, _k.revoked_at.is_(None)).values(revoked_at=at)
            )
            row = conn.execute(select(api_keys).where(*scoped)).first()
            if row is None:
                raise key_not_found(key_id)
            return _key(row)

        with _store_errors("revoke an API key"):
            return await self._db.transaction(work)

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Move `last_used_at` forward to `at`."""
        stmt = (
            update(api_keys)
            .where(_k.id == key_id, or_(_k.last_used_at.is_(None), _k.last_used_at < at))
            .values(last_used_at=at)
        )
        with _store_errors("record an API key's use"):
            await self._db.transaction(lambda conn: conn.execute(stmt))
