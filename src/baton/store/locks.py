"""Resource locks: leases with expiry and fencing tokens, the store under the Conflict Resolver.

A step that writes a resource (``calendar:dana@x.com``, ``file:reports/q3.md``) holds that
resource's lock while it runs. A lock is a *lease*: it expires on its own unless renewed, so
a process that died frees its locks without anyone's help. Every grant carries a *fencing
token*, strictly greater than every token ever issued for the resource (tokens survive
release), and a protected store accepts a write only while `LockStore.check_fence` says the
token is the current, unexpired holder's: a holder paused past its lease cannot write after
another has taken the lock, even if it wakes up believing it still holds it.

A lease is live while ``now < expires_at``; at ``expires_at`` it has expired. Time comes from
an injected clock, so expiry is tested without sleeping. The SQL implementation is
`baton.store.sql.locks.SqlLockStore`; both pass ``tests/store/test_lock_store.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from baton.errors import UsageError

__all__ = ["Clock", "Lease", "LockStore", "MemoryLockStore", "lease_deadline", "utcnow"]

Clock = Callable[[], datetime]
"""Returns the current time, timezone-aware."""


def utcnow() -> datetime:
    """The current time in UTC (the default clock)."""
    return datetime.now(UTC)


def lease_deadline(now: datetime, ttl_s: float) -> datetime:
    """When a lease granted or renewed at `now` for `ttl_s` seconds expires.

    Raises:
        UsageError: `ttl_s` is not positive, or `now` is naive.
    """
    if not ttl_s > 0:
        raise UsageError(f"a lock's ttl must be positive, not {ttl_s!r}")
    if now.tzinfo is None:
        raise UsageError("the lock clock returned a naive datetime", hint="return aware UTC")
    return now + timedelta(seconds=ttl_s)


@dataclass(frozen=True, slots=True, kw_only=True)
class Lease:
    """A granted lock on one resource."""

    resource: str
    """What is locked, e.g. ``calendar:dana@x.com``."""
    owner: str
    """Who holds it (a step attempt, a process): only its holder can renew or release it."""
    token: int
    """Fencing token: greater than every token issued for `resource` before this grant."""
    expires_at: datetime
    """When the lease lapses unless renewed (aware UTC)."""

    def live_at(self, now: datetime) -> bool:
        """Whether the lease has not expired at `now`."""
        return now < self.expires_at


class LockStore(Protocol):
    """Where resource locks live; every operation is atomic against every other caller."""

    async def acquire(self, resource: str, owner: str, ttl_s: float) -> Lease | None:
        """Take `resource` for `ttl_s` seconds if it is free, expired, or already `owner`'s.

        Every grant (re-acquiring one's own lock included) gets a new token, greater than
        every token issued for `resource` so far; the previous lease is then stale.

        Returns:
            The lease, or None while another owner holds an unexpired lease.
        """
        ...

    async def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """Extend `lease` to ``now + ttl_s``, keeping its token.

        Returns:
            The extended lease, or None if it is lost: expired, released or taken over.
        """
        ...

    async def release(self, lease: Lease) -> None:
        """Free the lock if `lease` (owner and token) is still the current grant; else no-op."""
        ...

    async def holder(self, resource: str) -> Lease | None:
        """The current unexpired lease on `resource`, or None when it is free."""
        ...

    async def check_fence(self, resource: str, token: int) -> bool:
        """Whether `token` is the current, unexpired holder's: check it before a write."""
        ...


@dataclass(slots=True, kw_only=True)
class _Slot:
    """One resource's state; kept on release so that tokens keep rising."""

    token: int
    owner: str | None
    expires_at: datetime | None

    def live_at(self, now: datetime) -> bool:
        return self.owner is not None and self.expires_at is not None and now < self.expires_at


class MemoryLockStore:
    """A `LockStore` in a dict: one process only (tests, running without a database).

    No method awaits between reading and writing a slot, so each is atomic on the event loop.
    """

    def __init__(self, *, clock: Clock = utcnow) -> None:
        """Read the time from `clock` (inject a fake one to test expiry)."""
        self._clock = clock
        self._slots: dict[str, _Slot] = {}

    async def acquire(self, resource: str, owner: str, ttl_s: float) -> Lease | None:
        """Take `resource` if free, expired or `owner`'s; None while another holds it."""
        now = self._clock()
        expires_at = lease_deadline(now, ttl_s)
        slot = self._slots.get(resource)
        if slot is None:
            slot = self._slots[resource] = _Slot(token=0, owner=None, expires_at=None)
        elif slot.live_at(now) and slot.owner != owner:
            return None
        slot.token += 1
        slot.owner = owner
        slot.expires_at = expires_at
        return Lease(resource=resource, owner=owner, token=slot.token, expires_at=expires_at)

    async def renew(self, lease: Lease, ttl_s: float) -> Lease | None:
        """Extend `lease`, keeping its token; None if it is lost."""
        now = self._clock()
        expires_at = lease_deadline(now, ttl_s)
        slot = self._current(lease)
        if slot is None or not slot.live_at(now):
            return None
        slot.expires_at = expires_at
        return Lease(
            resource=lease.resource, owner=lease.owner, token=lease.token, expires_at=expires_at
        )

    async def release(self, lease: Lease) -> None:
        """Free the lock if `lease` is still the current grant."""
        slot = self._current(lease)
        if slot is not None:
            slot.owner = None
            slot.expires_at = None

    async def holder(self, resource: str) -> Lease | None:
        """The current unexpired lease on `resource`, or None."""
        slot = self._slots.get(resource)
        if slot is None or not slot.live_at(self._clock()):
            return None
        assert slot.owner is not None
        assert slot.expires_at is not None
        return Lease(
            resource=resource, owner=slot.owner, token=slot.token, expires_at=slot.expires_at
        )

    async def check_fence(self, resource: str, token: int) -> bool:
        """Whether `token` is the current, unexpired holder's."""
        slot = self._slots.get(resource)
        return slot is not None and slot.token == token and slot.live_at(self._clock())

    def _current(self, lease: Lease) -> _Slot | None:
        slot = self._slots.get(lease.resource)
        if slot is None or slot.owner != lease.owner or slot.token != lease.token:
            return None
        return slot
