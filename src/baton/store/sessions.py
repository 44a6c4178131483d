"""Dashboard sign-in sessions: the record and the store it lives in.

A browser signs in with an API key and gets a session token in an HttpOnly cookie instead of
keeping the key itself. A `Session` stores only the SHA-256 of that token (the token is 256
random bits, so a fast hash is enough: see `baton.enterprise.keys.hash_secret`), the key it
was opened with and when it ends. The key stays the source of truth: a session acts as its
key's user, and revoking the key (or disabling the user) ends every session opened with it,
because authentication checks the key on each use (`baton.enterprise.sessions`).

The SQL implementation is `baton.store.sql.sessions.SqlSessionStore`; both pass
``tests/store/test_session_store.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from baton.errors import UsageError

__all__ = ["MemorySessionStore", "Session", "SessionStore"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Session:
    """One signed-in browser."""

    token_hash: str
    """SHA-256 of the session token, hex: the token itself is never stored."""
    key_id: str
    """The API key it was opened with; it acts as that key's user."""
    created_at: datetime
    """When it was opened."""
    expires_at: datetime
    """When it stops working."""

    def active(self, now: datetime) -> bool:
        """Whether it may still authenticate at `now`."""
        return now < self.expires_at


class SessionStore(Protocol):
    """Where sessions live."""

    async def create_session(self, session: Session) -> Session:
        """Store a new session.

        Raises:
            UsageError: a session with that token hash exists already.
        """
        ...

    async def get_session(self, token_hash: str) -> Session | None:
        """The session with that token hash, expired or not, or None."""
        ...

    async def delete_session(self, token_hash: str) -> bool:
        """End a session; True if there was one."""
        ...

    async def purge_sessions(self, before: datetime) -> int:
        """Delete the sessions that expired before `before`; how many went."""
        ...


class MemorySessionStore:
    """A `SessionStore` in a dict (in-memory engines and tests)."""

    def __init__(self) -> None:
        """An empty store."""
        self._sessions: dict[str, Session] = {}

    async def create_session(self, session: Session) -> Session:
        """Store a new session."""
        if session.token_hash in self._sessions:
            raise UsageError("a session with that token exists already")
        self._sessions[session.token_hash] = session
        return session

    async def get_session(self, token_hash: str) -> Session | None:
        """The session with that token hash, or None."""
        return self._sessions.get(token_hash)

    async def delete_session(self, token_hash: str) -> bool:
        """End a session."""
        return self._sessions.pop(token_hash, None) is not None

    async def purge_sessions(self, before: datetime) -> int:
        """Delete the sessions that expired before `before`."""
        gone = [h for h, s in self._sessions.items() if s.expires_at < before]
        for token_hash in gone:
            del self._sessions[token_hash]
        return len(gone)
