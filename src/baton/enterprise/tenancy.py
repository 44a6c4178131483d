"""The tenancy service: who is calling (`Principal`), and what they may do to users and keys.

`Tenancy` is the policy over a `TenancyStore`: it authenticates API tokens, checks every
action against the caller's role (`baton.enterprise.roles.allows`), validates names and makes
keys. The store below it scopes every query by workspace; this layer decides whether the
caller may act at all.

Two rules about what a refusal may reveal:

- Authentication answers None for every bad token alike (malformed, unknown, revoked,
  expired, disabled user), so a caller cannot probe which keys exist.
- A key the caller may not even read (another user's, without `Permission.KEYS_MANAGE_ALL`)
  is "not found", exactly like a key that does not exist.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import anyio

from baton.enterprise.keys import generate_key, parse_token, verify
from baton.enterprise.roles import Permission, Role, allows
from baton.errors import NotFoundError, PermissionDeniedError, StoreError, UsageError
from baton.store.approvals import Clock, utcnow
from baton.store.tenancy import (
    USER_KINDS,
    ApiKey,
    TenancyStore,
    User,
    UserKind,
    Workspace,
    key_not_found,
    new_user_id,
    new_workspace_id,
)

__all__ = ["DEFAULT_WORKSPACE_ID", "MAX_NAME_CHARS", "Principal", "Tenancy"]

DEFAULT_WORKSPACE_ID = "default"
"""The first workspace: the one the CLI's executions have always been stored in."""
MAX_NAME_CHARS = 100
"""The longest name of a workspace, user or key."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    """Who a request acts as: a user of one workspace, authenticated by one of their keys."""

    user_id: str
    """The user."""
    name: str
    """The user's name."""
    kind: UserKind
    """A person or a service account."""
    workspace_id: str
    """The workspace everything the request touches is scoped to."""
    role: Role
    """The user's role there."""
    key_id: str | None
    """The key that authenticated the request (None: acting without a key, e.g. the CLI)."""

    def can(self, permission: Permission) -> bool:
        """Whether the principal's role has `permission`."""
        return allows(self.role, permission)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Cached:
    principal: Principal
    secret_hash: str
    expires_at: datetime | None
    """The key's own expiry: a cached key still stops working on time."""
    fresh_until: datetime


def _check_name(value: str, field: str) -> str:
    name = value.strip()
    if not name:
        raise UsageError(f"{field} must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise UsageError(f"{field} must be at most {MAX_NAME_CHARS} characters long")
    if not name.isprintable():
        raise UsageError(f"{field} must not contain control characters")
    return name


def _require(principal: Principal, permission: Permission) -> None:
    if not principal.can(permission):
        raise PermissionDeniedError(
            f"the {principal.role.value} role does not allow {permission.value}",
            hint="ask an admin of the workspace",
        )


class Tenancy:
    """Workspaces, users and API keys, with authentication and permission checks.

    Successful authentications are cached in this process for `cache_ttl_s` (keyed by key
    id, with the secret's hash so the token is still checked), so that a request costs no
    database round trip. Revoking a key, disabling a user or changing a role *through this
    service* takes effect at once here; done by another process, it takes effect here
    within `cache_ttl_s`.
    """

    def __init__(
        self, store: TenancyStore, *, clock: Clock = utcnow, cache_ttl_s: float = 5.0
    ) -> None:
        """Manage the tenancy kept in `store`.

        Args:
            store: Where workspaces, users and keys live.
            clock: The current time (inject a fake one to test expiry and the cache).
            cache_ttl_s: How long a successful authentication is reused (0: never).
        """
        self._store = store
        self._clock = clock
        self._cache_ttl = timedelta(seconds=cache_ttl_s)
        self._cache: dict[str, _Cached] = {}
        self._lookups: dict[str, anyio.Event] = {}
        self._bootstrap_lock = anyio.Lock()

    # -- first start and workspaces ------------------------------------------------------

    async def bootstrap(self, workspace_name: str = "default") -> str | None:
        """On a first start (no user anywhere), make the first admin and their key.

        The first workspace is ``default`` (created if missing), where the CLI's executions
        already are. Two calls in one process make one admin; two processes starting at once
        on an empty database could each make one (each shows its own token).

        Args:
            workspace_name: The name of the ``default`` workspace, if it is created.

        Returns:
            The admin's token (to show once), or None when there were users already.
        """
        name = _check_name(workspace_name, "workspace name")
        async with self._bootstrap_lock:
            if await self._store.count_users() > 0:
                return None
            try:
                await self._store.get_workspace(DEFAULT_WORKSPACE_ID)
            except NotFoundError:
                await self._store.create_workspace(
                    Workspace(id=DEFAULT_WORKSPACE_ID, name=name, created_at=self._clock())
                )
            admin = await self._new_user(DEFAULT_WORKSPACE_ID, "admin", Role.ADMIN, "user")
            _, token = await self._new_key(admin, name="bootstrap", expires_at=None)
            return token

    async def create_workspace(
        self, name: str, admin_name: str, *, by: Principal | None = None
    ) -> tuple[Workspace, str]:
        """Create a workspace with its first admin and their key.

        Args:
            name: The workspace's name.
            admin_name: The name of its first admin.
            by: Who asks (needs `Permission.WORKSPACES_CREATE`); None for the operator
                (the CLI, which has the database anyway).

        Returns:
            The workspace and the admin's token (to show once).

        Raises:
            PermissionDeniedError: `by` may not create workspaces.
            UsageError: a name is empty or too long.
        """
        if by is not None:
            _require(by, Permission.WORKSPACES_CREATE)
        workspace = Workspace(
            id=new_workspace_id(),
            name=_check_name(name, "workspace name"),
            created_at=self._clock(),
        )
        admin_name = _check_name(admin_name, "admin name")
        await self._store.create_workspace(workspace)
        admin = await self._new_user(workspace.id, admin_name, Role.ADMIN, "user")
        _, token = await self._new_key(admin, name="initial admin key", expires_at=None)
        return workspace, token

    # -- authentication ------------------------------------------------------------------

    async def authenticate(self, token: str | None) -> Principal | None:
        """The principal a token acts as.

        Returns:
            None for a missing, malformed, unknown, revoked or expired token and for a
            disabled user's key, all alike.
        """
        if token is None or (parsed := parse_token(token)) is None:
            return None
        key_id, secret = parsed
        now = self._clock()
        cached = self._cache.get(key_id)
        if cached is not None and now < cached.fresh_until:
            if cached.expires_at is not None and now >= cached.expires_at:
                return None
            return cached.principal if verify(secret, cached.secret_hash) else None
        self._cache.pop(key_id, None)
        # One lookup per key at a time: when a busy key's cache entry expires, the requests
        # in flight wait for the first one's lookup instead of each querying the store.
        if (pending := self._lookups.get(key_id)) is not None:
            await pending.wait()
            return await self.authenticate(token)
        done = self._lookups[key_id] = anyio.Event()
        try:
            return await self._authenticate_stored(key_id, secret, now)
        finally:
            del self._lookups[key_id]
            done.set()

    async def _authenticate_stored(
        self, key_id: str, secret: str, now: datetime
    ) -> Principal | None:
        key = await self._store.get_key(key_id)
        if key is None or not key.active(now) or not verify(secret, key.secret_hash):
            return None
        try:
            user = await self._store.get_user(key.workspace_id, key.user_id)
        except NotFoundError:
            return None
        if user.disabled:
            return None
        principal = Principal(
            user_id=user.id,
            name=user.name,
            kind=user.kind,
            workspace_id=user.workspace_id,
            role=user.role,
            key_id=key.id,
        )
        if self._cache_ttl > timedelta(0):
            self._cache[key_id] = _Cached(
                principal=principal,
                secret_hash=key.secret_hash,
                expires_at=key.expires_at,
                fresh_until=now + self._cache_ttl,
            )
        # Only on a cache miss, so at most one write per key per TTL; a failure to record
        # the use must not refuse the request.
        with contextlib.suppress(StoreError):
            await self._store.touch_key(key_id, now)
        return principal

    def _forget_user(self, user_id: str) -> None:
        for key_id in [k for k, c in self._cache.items() if c.principal.user_id == user_id]:
            del self._cache[key_id]

    # -- users ---------------------------------------------------------------------------

    async def add_user(
        self, principal: Principal, name: str, role: Role, kind: UserKind = "user"
    ) -> User:
        """Add a user (a person or a service account) to the principal's workspace.

        Raises:
            PermissionDeniedError: the principal may not manage members.
            UsageError: the name is empty or too long, or the kind is unknown.
        """
        _require(principal, Permission.MEMBERS_MANAGE)
        if kind not in USER_KINDS:
            raise UsageError(f"kind must be 'user' or 'service', not {kind!r}")
        return await self._new_user(principal.workspace_id, _check_name(name, "name"), role, kind)

    async def set_role(self, principal: Principal, user_id: str, role: Role) -> User:
        """Give a user of the principal's workspace another role.

        Raises:
            PermissionDeniedError: the principal may not manage members.
            NotFoundError: no such user in the workspace.
            UsageError: the user is disabled, or is the workspace's last admin.
        """
        _require(principal, Permission.MEMBERS_MANAGE)
        user = await self._store.update_user_role(principal.workspace_id, user_id, role)
        self._forget_user(user_id)
        return user

    async def remove_user(self, principal: Principal, user_id: str) -> User:
        """Disable a user of the principal's workspace and revoke all their keys.

        Raises:
            PermissionDeniedError: the principal may not manage members.
            NotFoundError: no such user in the workspace.
            UsageError: the user is the workspace's last admin.
        """
        _require(principal, Permission.MEMBERS_MANAGE)
        user = await self._store.disable_user(principal.workspace_id, user_id, self._clock())
        self._forget_user(user_id)
        return user

    async def list_users(self, principal: Principal) -> list[User]:
        """The users of the principal's workspace, disabled ones included, oldest first.

        Raises:
            PermissionDeniedError: the principal may not read members.
        """
        _require(principal, Permission.MEMBERS_READ)
        return await self._store.list_users(principal.workspace_id)

    async def _new_user(self, workspace_id: str, name: str, role: Role, kind: UserKind) -> User:
        user = User(
            id=new_user_id(),
            workspace_id=workspace_id,
            name=name,
            kind=kind,
            role=role,
            created_at=self._clock(),
        )
        return await self._store.create_user(user)

    # -- keys ----------------------------------------------------------------------------

    async def create_key(
        self,
        principal: Principal,
        *,
        name: str,
        user_id: str | None = None,
        expires_at: datetime | None = None,
    ) -> tuple[ApiKey, str]:
        """Create an API key for the principal, or for another user of the workspace.

        Args:
            principal: Who asks: needs `Permission.KEYS_MANAGE_OWN` for their own key,
                `Permission.KEYS_MANAGE_ALL` for another user's (e.g. a service account).
            name: What the key is for.
            user_id: Whose key it is (default: the principal's).
            expires_at: When it stops working (timezone-aware, in the future), if ever.

        Returns:
            The stored key and its token (to show once: it cannot be read back).

        Raises:
            PermissionDeniedError: the principal may not create that key.
            NotFoundError: no such user in the workspace.
            UsageError: bad name or expiry, or the user is disabled.
        """
        own = user_id is None or user_id == principal.user_id
        _require(principal, Permission.KEYS_MANAGE_OWN if own else Permission.KEYS_MANAGE_ALL)
        name = _check_name(name, "key name")
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise UsageError("expires_at must carry a timezone")
            if expires_at <= self._clock():
                raise UsageError("expires_at must be in the future")
        owner = await self._store.get_user(principal.workspace_id, user_id or principal.user_id)
        return await self._new_key(owner, name=name, expires_at=expires_at)

    async def list_keys(self, principal: Principal) -> list[ApiKey]:
        """API keys of the principal's workspace: every user's for admins, else their own.

        Raises:
            PermissionDeniedError: the principal may not read keys.
        """
        _require(principal, Permission.KEYS_READ_OWN)
        if principal.can(Permission.KEYS_MANAGE_ALL):
            return await self._store.list_keys(principal.workspace_id)
        return await self._store.list_keys(principal.workspace_id, principal.user_id)

    async def revoke_key(self, principal: Principal, key_id: str) -> ApiKey:
        """Revoke a key now; it stops authenticating at once in this process.

        Raises:
            NotFoundError: no such key in the workspace, or another user's key the
                principal may not manage (whose existence must not leak).
            PermissionDeniedError: the principal's own key, which their role may not revoke.
        """
        key = await self._store.get_key(key_id)
        if key is None or key.workspace_id != principal.workspace_id:
            raise key_not_found(key_id)
        if key.user_id == principal.user_id:
            _require(principal, Permission.KEYS_MANAGE_OWN)
        elif not principal.can(Permission.KEYS_MANAGE_ALL):
            raise key_not_found(key_id)
        revoked = await self._store.revoke_key(principal.workspace_id, key_id, self._clock())
        self._cache.pop(key_id, None)
        return revoked

    async def _new_key(
        self, owner: User, *, name: str, expires_at: datetime | None
    ) -> tuple[ApiKey, str]:
        token, key_id, secret_hash = generate_key()
        key = ApiKey(
            id=key_id,
            workspace_id=owner.workspace_id,
            user_id=owner.id,
            name=name,
            secret_hash=secret_hash,
            created_at=self._clock(),
            expires_at=expires_at,
        )
        return await self._store.create_key(key), token
