"""Workspaces, their users and API keys: the records and the store they live in.

A `Workspace` is the unit of tenancy: every row that belongs to someone carries its id, and
every query that takes a ``workspace_id`` filters by it here, in the store, so that an object
of another workspace is simply *not found* (`NotFoundError`), never "forbidden".

A `User` belongs to exactly one workspace and carries its `Role` there: the user row *is*
the membership, so a person in two workspaces is two users. Users are never deleted, only
disabled (their keys are revoked with them), so that who did what stays readable.

An `ApiKey` stores only a hash of its secret (see `baton.enterprise.keys`); its id is the
public part of the token, which is how `TenancyStore.get_key` finds it, unscoped, when a
request authenticates.

Invariant kept by every store: a workspace that has an active admin keeps at least one
(`TenancyStore.update_user_role` and `TenancyStore.disable_user` refuse to remove the last).
The check and the change happen in one transaction, with the workspace row locked on
PostgreSQL, so two admins demoting each other at once cannot both succeed.

The policy above this (who may do what, tokens, the authentication cache) is
`baton.enterprise`. The SQL implementation is `baton.store.sql.tenancy.SqlTenancyStore`;
both pass ``tests/store/test_tenancy_store.py``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, Protocol, get_args

from baton.errors import NotFoundError, UsageError
from baton.ids import new_execution_id

__all__ = [
    "ApiKey",
    "MemoryTenancyStore",
    "Role",
    "TenancyStore",
    "User",
    "UserKind",
    "Workspace",
    "new_user_id",
    "new_workspace_id",
]


class Role(StrEnum):
    """What a user may do in their workspace (the permissions are `baton.enterprise.roles`).

    Defined here, below the policy, because the store keeps it; `baton.enterprise.roles`
    re-exports it.
    """

    ADMIN = "admin"
    """Everything, including members, everyone's keys and new workspaces."""
    MEMBER = "member"
    """Runs, cancels and approves executions; manages their own keys."""
    VIEWER = "viewer"
    """Reads only."""


UserKind = Literal["user", "service"]
"""A person, or a service account (a program calling the API with its own keys)."""

USER_KINDS: frozenset[str] = frozenset(get_args(UserKind))


def _new_id(prefix: str) -> str:
    return prefix + new_execution_id().removeprefix("ex_")


def new_workspace_id() -> str:
    """A new, time-sortable workspace id such as ``ws_01hx...``."""
    return _new_id("ws_")


def new_user_id() -> str:
    """A new, time-sortable user id such as ``us_01hx...``."""
    return _new_id("us_")


@dataclass(frozen=True, slots=True, kw_only=True)
class Workspace:
    """A tenant: everything stored for it carries its id."""

    id: str
    """``ws_...`` (the first workspace is ``default``, the CLI's own)."""
    name: str
    """What people call it."""
    created_at: datetime
    """When it was created."""


@dataclass(frozen=True, slots=True, kw_only=True)
class User:
    """A user of one workspace, with their role there."""

    id: str
    """``us_...``."""
    workspace_id: str
    """The only workspace this user belongs to."""
    name: str
    """Display name."""
    kind: UserKind
    """A person or a service account."""
    role: Role
    """What they may do in the workspace."""
    created_at: datetime
    """When they were added."""
    disabled: bool = False
    """Removed from the workspace: cannot authenticate; kept so history stays readable."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiKey:
    """An API key of a user; the secret itself is never stored, only its hash."""

    id: str
    """The key id: the public part of the token, shown in listings as its prefix."""
    workspace_id: str
    """The workspace of its user."""
    user_id: str
    """Whom it authenticates as."""
    name: str
    """What its owner called it (e.g. ``ci``)."""
    secret_hash: str
    """SHA-256 of the secret, hex (`baton.enterprise.keys.hash_secret`)."""
    created_at: datetime
    """When it was created."""
    expires_at: datetime | None = None
    """When it stops working, if it does."""
    revoked_at: datetime | None = None
    """When it was revoked, if it was."""
    last_used_at: datetime | None = None
    """When it last authenticated a request (best effort, to within a few seconds)."""

    def active(self, now: datetime) -> bool:
        """Whether it may authenticate at `now`: not revoked and not expired."""
        return self.revoked_at is None and (self.expires_at is None or now < self.expires_at)


class TenancyStore(Protocol):
    """Where workspaces, users and keys live; every workspace-scoped query filters by it."""

    async def create_workspace(self, workspace: Workspace) -> Workspace:
        """Store a new workspace.

        Raises:
            UsageError: its id exists already.
        """
        ...

    async def get_workspace(self, workspace_id: str) -> Workspace:
        """The workspace with that id.

        Raises:
            NotFoundError: there is none.
        """
        ...

    async def list_workspaces(self) -> list[Workspace]:
        """Every workspace, oldest first."""
        ...

    async def count_users(self) -> int:
        """How many users exist in all workspaces, disabled ones included (0: a first start)."""
        ...

    async def create_user(self, user: User) -> User:
        """Store a new user.

        Raises:
            NotFoundError: the user's workspace does not exist.
            UsageError: the id exists already.
        """
        ...

    async def get_user(self, workspace_id: str, user_id: str) -> User:
        """The user with that id in that workspace.

        Raises:
            NotFoundError: there is none there (in another workspace counts as none).
        """
        ...

    async def list_users(self, workspace_id: str) -> list[User]:
        """The workspace's users, disabled ones included, oldest first."""
        ...

    async def update_user_role(self, workspace_id: str, user_id: str, role: Role) -> User:
        """Give a user another role.

        Returns:
            The updated user.

        Raises:
            NotFoundError: no such user in that workspace.
            UsageError: the user is disabled, or is the workspace's last active admin and
                `role` is not admin.
        """
        ...

    async def disable_user(self, workspace_id: str, user_id: str, at: datetime) -> User:
        """Disable a user and revoke (at `at`) every key of theirs not revoked yet.

        Disabling a disabled user changes nothing.

        Returns:
            The disabled user.

        Raises:
            NotFoundError: no such user in that workspace.
            UsageError: the user is the workspace's last active admin.
        """
        ...

    async def create_key(self, key: ApiKey) -> ApiKey:
        """Store a new API key.

        Raises:
            NotFoundError: its user does not exist in its workspace.
            UsageError: the id exists already, or the user is disabled.
        """
        ...

    async def get_key(self, key_id: str) -> ApiKey | None:
        """The key with that id in any workspace (how authentication finds it), or None."""
        ...

    async def list_keys(self, workspace_id: str, user_id: str | None = None) -> list[ApiKey]:
        """The workspace's keys (revoked and expired ones included), oldest first.

        Args:
            workspace_id: The workspace.
            user_id: Only this user's keys.
        """
        ...

    async def revoke_key(self, workspace_id: str, key_id: str, at: datetime) -> ApiKey:
        """Revoke a key at `at`; revoking a revoked key keeps its first revocation time.

        Returns:
            The key as it is now.

        Raises:
            NotFoundError: no such key in that workspace.
        """
        ...

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Record that the key was used at `at` (never moves `last_used_at` back)."""
        ...


def workspace_not_found(workspace_id: str) -> NotFoundError:
    """The error for an unknown workspace."""
    return NotFoundError(f"no workspace {workspace_id!r}")


def user_not_found(user_id: str) -> NotFoundError:
    """The error for a user that is not in the workspace asked about."""
    return NotFoundError(
        f"no user {user_id!r} in this workspace", hint="list the workspace's users to find one"
    )


def key_not_found(key_id: str) -> NotFoundError:
    """The error for a key that is not in the workspace asked about."""
    return NotFoundError(f"no API key {key_id!r} in this workspace")


def check_new_user(user: User) -> None:
    """Refuse a user record that cannot be stored."""
    if user.kind not in USER_KINDS:
        raise UsageError(f"a user's kind must be 'user' or 'service', not {user.kind!r}")


def check_role_change(user: User, role: Role, other_active_admins: int) -> None:
    """Refuse a role change that `TenancyStore.update_user_role` must not make."""
    if user.disabled:
        raise UsageError(f"user {user.id!r} is disabled; add them again instead")
    if role is not Role.ADMIN:
        check_keeps_an_admin(user, other_active_admins)


def check_keeps_an_admin(user: User, other_active_admins: int) -> None:
    """Refuse to demote or disable `user` when they are the workspace's last active admin."""
    if user.role is Role.ADMIN and not user.disabled and other_active_admins == 0:
        raise UsageError(
            f"user {user.id!r} ({user.name}) is the last admin of the workspace",
            hint="make another user admin first",
        )


def user_disabled(user: User) -> UsageError:
    """The error for creating a key for a disabled user."""
    return UsageError(f"user {user.id!r} is disabled and cannot get API keys")


class MemoryTenancyStore:
    """A `TenancyStore` in dicts: one process only (tests, running without a database).

    No method awaits between reading and writing, so each is atomic on the event loop.
    """

    def __init__(self) -> None:
        """Start empty."""
        self._workspaces: dict[str, Workspace] = {}
        self._users: dict[str, User] = {}
        self._keys: dict[str, ApiKey] = {}

    async def create_workspace(self, workspace: Workspace) -> Workspace:
        """Store a new workspace."""
        if workspace.id in self._workspaces:
            raise UsageError(f"workspace {workspace.id!r} exists already")
        self._workspaces[workspace.id] = workspace
        return workspace

    async def get_workspace(self, workspace_id: str) -> Workspace:
        """The workspace with that id (`NotFoundError` if none)."""
        try:
            return self._workspaces[workspace_id]
        except KeyError:
            raise workspace_not_found(workspace_id) from None

    async def list_workspaces(self) -> list[Workspace]:
        """Every workspace, oldest first."""
        return sorted(self._workspaces.values(), key=lambda w: (w.created_at, w.id))

    async def count_users(self) -> int:
        """How many users exist, in every workspace."""
        return len(self._users)

    async def create_user(self, user: User) -> User:
        """Store a new user of an existing workspace."""
        check_new_user(user)
        if user.workspace_id not in self._workspaces:
            raise workspace_not_found(user.workspace_id)
        if user.id in self._users:
            raise UsageError(f"user {user.id!r} exists already")
        self._users[user.id] = user
        return user

    async def get_user(self, workspace_id: str, user_id: str) -> User:
        """The user with that id in that workspace (`NotFoundError` otherwise)."""
        user = self._users.get(user_id)
        if user is None or user.workspace_id != workspace_id:
            raise user_not_found(user_id)
        return user

    async def list_users(self, workspace_id: str) -> list[User]:
        """The workspace's users, oldest first."""
        users = [u for u in self._users.values() if u.workspace_id == workspace_id]
        return sorted(users, key=lambda u: (u.created_at, u.id))

    def _other_active_admins(self, user: User) -> int:
        return sum(
            1
            for u in self._users.values()
            if u.workspace_id == user.workspace_id
            and u.id != user.id
            and u.role is Role.ADMIN
            and not u.disabled
        )

    async def update_user_role(self, workspace_id: str, user_id: str, role: Role) -> User:
        """Give a user another role, keeping an admin in the workspace."""
        user = await self.get_user(workspace_id, user_id)
        check_role_change(user, role, self._other_active_admins(user))
        updated = dataclasses.replace(user, role=role)
        self._users[user_id] = updated
        return updated

    async def disable_user(self, workspace_id: str, user_id: str, at: datetime) -> User:
        """Disable a user and revoke their keys, keeping an admin in the workspace."""
        user = await self.get_user(workspace_id, user_id)
        check_keeps_an_admin(user, self._other_active_admins(user))
        disabled = dataclasses.replace(user, disabled=True)
        self._users[user_id] = disabled
        for key in list(self._keys.values()):
            if key.user_id == user_id and key.revoked_at is None:
                self._keys[key.id] = dataclasses.replace(key, revoked_at=at)
        return disabled

    async def create_key(self, key: ApiKey) -> ApiKey:
        """Store a new key of an active user of the key's workspace."""
        user = await self.get_user(key.workspace_id, key.user_id)
        if user.disabled:
            raise user_disabled(user)
        if key.id in self._keys:
            raise UsageError(f"API key {key.id!r} exists already")
        self._keys[key.id] = key
        return key

    async def get_key(self, key_id: str) -> ApiKey | None:
        """The key with that id, in any workspace."""
        return self._keys.get(key_id)

    async def list_keys(self, workspace_id: str, user_id: str | None = None) -> list[ApiKey]:
        """The workspace's keys (or one user's there), oldest first."""
        keys = [
            k
            for k in self._keys.values()
            if k.workspace_id == workspace_id and (user_id is None or k.user_id == user_id)
        ]
        return sorted(keys, key=lambda k: (k.created_at, k.id))

    async def revoke_key(self, workspace_id: str, key_id: str, at: datetime) -> ApiKey:
        """Revoke a key of the workspace (once: the first time is kept)."""
        key = self._keys.get(key_id)
        if key is None or key.workspace_id != workspace_id:
            raise key_not_found(key_id)
        if key.revoked_at is None:
            key = dataclasses.replace(key, revoked_at=at)
            self._keys[key_id] = key
        return key

    async def touch_key(self, key_id: str, at: datetime) -> None:
        """Move `last_used_at` forward to `at`."""
        key = self._keys.get(key_id)
        if key is not None and (key.last_used_at is None or key.last_used_at < at):
            self._keys[key_id] = dataclasses.replace(key, last_used_at=at)
