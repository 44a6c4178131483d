"""Dashboard sessions: an API key exchanged once for a revocable, expiring session token.

```python
grant = await sessions.open(api_key)          # None for a bad key (the same as any bad key)
principal = await sessions.authenticate(grant.token)
sessions.csrf_ok(grant.token, request_header) # for POST, PUT, PATCH and DELETE
await sessions.close(grant.token)
```

The browser keeps the session token in an HttpOnly cookie, so page scripts never see a
credential. Only its SHA-256 is stored (`baton.store.sessions`), so a copy of the database
cannot sign anyone in.

The CSRF token is derived from the session token with HMAC rather than stored: it is
unforgeable without the (HttpOnly) session token, survives a server restart with the session,
and costs no column. A state-changing request authenticated by the cookie must echo it in a
header, which a cross-site form or script cannot do.

A session acts as the key it was opened with, checked on every use: revoking the key,
disabling its user or changing their role takes effect on the session's next request.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from baton.enterprise.tenancy import Principal, Tenancy
from baton.errors import NotFoundError
from baton.store.approvals import Clock, utcnow
from baton.store.sessions import Session, SessionStore
from baton.store.tenancy import TenancyStore

__all__ = ["SessionGrant", "Sessions", "csrf_token_for"]

_TOKEN_BYTES = 32
_CSRF_CONTEXT = b"baton-csrf-v1"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    """The CSRF token that goes with a session token (HMAC-SHA-256, hex)."""
    return hmac.new(session_token.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionGrant:
    """A session just opened: its token (for the cookie), CSRF token and principal."""

    token: str
    """The session token: goes to the HttpOnly cookie, nowhere else."""
    csrf_token: str
    """What state-changing requests must echo in ``X-CSRF-Token``."""
    principal: Principal
    """Who the session acts as."""
    expires_at: datetime
    """When it stops working."""


class Sessions:
    """Opens, checks and ends dashboard sessions."""

    def __init__(
        self,
        store: SessionStore,
        tenancy: Tenancy,
        tenancy_store: TenancyStore,
        *,
        ttl_s: float,
        clock: Clock = utcnow,
    ) -> None:
        """Keep sessions in `store`, backed by the keys of `tenancy`.

        Args:
            store: Where sessions live.
            tenancy: Authenticates the API key a session is opened with.
            tenancy_store: Where a session's key and user are checked on each use.
            ttl_s: How long a session lasts.
            clock: The current time (inject a fake one to test expiry).
        """
        self._store = store
        self._tenancy = tenancy
        self._tenancy_store = tenancy_store
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock

    async def open(self, api_key: str) -> SessionGrant | None:
        """Open a session for a valid API key; None for any bad key, all alike.

        Sessions that have expired are purged on the way (an indexed delete), so the table
        holds live sessions only.
        """
        principal = await self._tenancy.authenticate(api_key)
        if principal is None or principal.key_id is None:
            return None
        now = self._clock()
        await self._store.purge_sessions(now)
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        session = Session(
            token_hash=_hash(token),
            key_id=principal.key_id,
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._store.create_session(session)
        return SessionGrant(
            token=token,
            csrf_token=csrf_token_for(token),
            principal=principal,
            expires_at=session.expires_at,
        )

    async def authenticate(self, token: str | None) -> Principal | None:
        """The principal a session token acts as.

        Returns:
            None when the session is unknown or expired, or its key or user may no longer
            authenticate (revoked, expired, disabled).
        """
        if not token:
            return None
        now = self._clock()
        session = await self._store.get_session(_hash(token))
        if session is None or not session.active(now):
            return None
        key = await self._tenancy_store.get_key(session.key_id)
        if key is None or not key.active(now):
            return None
        try:
            user = await self._tenancy_store.get_user(key.workspace_id, key.user_id)
        except NotFoundError:
            return None
        if user.disabled:
            return None
        return Principal(
            user_id=user.id,
            name=user.name,
            kind=user.kind,
            workspace_id=user.workspace_id,
            role=user.role,
            key_id=key.id,
        )

    @staticmethod
    def csrf_ok(token: str, csrf_token: str | None) -> bool:
        """Whether `csrf_token` is the session's (compared in constant time)."""
        if not csrf_token:
            return False
        return hmac.compare_digest(csrf_token_for(token), csrf_token)

    async def close(self, token: str) -> bool:
        """End a session; True if there was one."""
        return await self._store.delete_session(_hash(token))
