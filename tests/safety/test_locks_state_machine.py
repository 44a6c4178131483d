"""Random acquire / renew / release / clock jumps / paused holders against a lock store.

A fake protected store accepts a write only when `LockStore.check_fence` passes. The model
below follows nothing but what the lock store returned (leases, renewals, releases) and the
fake clock; it checks every answer of the store against that, and after every step that:

- no stale write was ever accepted: a write is stale when its token is not the latest
  grant on the resource, or that grant had expired or been released when it was written;
- accepted writes carry non-decreasing tokens per resource;
- no two owners hold unexpired leases on one resource.

1,000 runs against the memory store, fewer against SQLite (one thread hop per call).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio.from_thread
import pytest
from anyio.from_thread import BlockingPortal
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from baton.store.locks import Lease, LockStore, MemoryLockStore
from baton.store.sql.database import Database, open_database, sqlite_url
from baton.store.sql.locks import SqlLockStore
from baton.store.sql.schema import create_schema
from support.clock import FakeClock

OWNERS = ("a", "b", "c")
RESOURCES = ("calendar:dana@x.com", "file:reports/q3.md")
T0 = datetime(2026, 1, 1, tzinfo=UTC)

owners = st.sampled_from(OWNERS)
resources = st.sampled_from(range(len(RESOURCES)))
ttls = st.integers(min_value=1, max_value=10)


@dataclass
class Write:
    resource: str
    owner: str
    token: int


class FencedStore:
    """What a protected store does: check the fence, then write (atomic on the memory store)."""

    def __init__(self, locks: LockStore) -> None:
        self.locks = locks
        self.accepted: list[Write] = []

    async def write(self, resource: str, owner: str, token: int) -> bool:
        if not await self.locks.check_fence(resource, token):
            return False
        self.accepted.append(Write(resource, owner, token))
        return True


class LockMachine(RuleBasedStateMachine):
    def __init__(self, portal: BlockingPortal, make_store: Callable[[FakeClock], LockStore]):
        super().__init__()
        self.portal = portal
        self.clock = FakeClock()
        self.store = make_store(self.clock)
        # A fresh namespace per run: the SQLite variant shares one database between runs.
        run = uuid.uuid4().hex[:8]
        self.names = tuple(f"{run}/{r}" for r in RESOURCES)
        self.fenced = FencedStore(self.store)
        self.held: dict[tuple[str, str], Lease] = {}  # what each owner believes it holds
        self.current: dict[str, Lease | None] = dict.fromkeys(self.names)  # latest grant
        self.issued: dict[str, int] = dict.fromkeys(self.names, 0)
        self.stale_writes: list[Write] = []

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        return self.portal.call(fn, *args)

    def live(self, resource: str) -> Lease | None:
        lease = self.current[resource]
        return lease if lease is not None and lease.live_at(self.clock.now) else None

    @rule(owner=owners, r=resources, ttl=ttls)
    def acquire(self, owner: str, r: int, ttl: int) -> None:
        resource = self.names[r]
        live = self.live(resource)
        lease: Lease | None = self.call(self.store.acquire, resource, owner, ttl)
        if live is not None and live.owner != owner:
            assert lease is None, f"{owner} took {resource} from {live.owner}"
            return
        assert lease is not None, f"{owner} refused a free {resource}"
        assert lease.token > self.issued[resource]
        assert lease.expires_at == self.clock.now + timedelta(seconds=ttl)
        self.issued[resource] = lease.token
        self.current[resource] = lease
        self.held[owner, resource] = lease

    @rule(owner=owners, r=resources, ttl=ttls)
    def renew(self, owner: str, r: int, ttl: int) -> None:
        resource = self.names[r]
        mine = self.held.get((owner, resource))
        if mine is None:
            return
        renewed: Lease | None = self.call(self.store.renew, mine, ttl)
        if self.live(resource) == mine:
            assert renewed is not None
            assert renewed.token == mine.token
            self.current[resource] = self.held[owner, resource] = renewed
        else:
            assert renewed is None, f"{owner} renewed a lost lease on {resource}"
            del self.held[owner, resource]

    @rule(owner=owners, r=resources)
    def release(self, owner: str, r: int) -> None:
        resource = self.names[r]
        mine = self.held.pop((owner, resource), None)
        if mine is None:
            return
        self.call(self.store.release, mine)
        if self.current[resource] == mine:
            self.current[resource] = None

    @rule(seconds=st.integers(min_value=0, max_value=12))
    def advance_clock(self, seconds: int) -> None:
        self.clock.now += timedelta(seconds=seconds)

    @rule(owner=owners, r=resources, extra=st.integers(min_value=0, max_value=3))
    def pause_past_lease(self, owner: str, r: int, extra: int) -> None:
        """The owner stalls (GC, swap, a stopped VM) until its lease has lapsed."""
        mine = self.held.get((owner, self.names[r]))
        if mine is not None and self.clock.now < mine.expires_at:
            self.clock.now = mine.expires_at + timedelta(seconds=extra)

    @rule(owner=owners, r=resources)
    def write(self, owner: str, r: int) -> None:
        """The owner writes with the token it believes it holds, stale or not."""
        resource = self.names[r]
        mine = self.held.get((owner, resource))
        if mine is None:
            return
        accepted: bool = self.call(self.fenced.write, resource, owner, mine.token)
        valid = self.live(resource) == mine
        if accepted and not valid:
            self.stale_writes.append(Write(resource, owner, mine.token))
        assert accepted == valid

    @invariant()
    def no_stale_writes(self) -> None:
        assert self.stale_writes == []

    @invariant()
    def accepted_tokens_never_go_back(self) -> None:
        last: dict[str, int] = {}
        for w in self.fenced.accepted:
            assert w.token >= last.get(w.resource, 0)
            last[w.resource] = w.token

    @invariant()
    def at_most_one_unexpired_holder(self) -> None:
        for resource in self.names:
            holders = {
                owner
                for (owner, r), lease in self.held.items()
                if r == resource and lease.live_at(self.clock.now)
            }
            assert len(holders) <= 1, f"{resource} held by {holders}"
            assert self.call(self.store.holder, resource) == self.live(resource)


@contextmanager
def portal() -> Iterator[BlockingPortal]:
    with anyio.from_thread.start_blocking_portal(backend="asyncio") as p:
        yield p


def run_machine(
    portal: BlockingPortal, make_store: Callable[[FakeClock], LockStore], n: int
) -> None:
    run_state_machine_as_test(
        # Any factory works (hypothesis only calls it); the stub says "a class".
        lambda: LockMachine(portal, make_store),  # pyright: ignore[reportArgumentType]
        settings=settings(
            max_examples=n,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


def test_memory_store_never_accepts_a_stale_write() -> None:
    with portal() as p:
        run_machine(p, lambda clock: MemoryLockStore(clock=clock), 1000)


def test_sqlite_store_never_accepts_a_stale_write(tmp_path: Path) -> None:
    with portal() as p:
        db: Database = open_database(sqlite_url(tmp_path / "locks.db"))
        try:
            p.call(create_schema, db)
            run_machine(p, lambda clock: SqlLockStore(db, clock=clock), 60)
        finally:
            p.call(db.dispose)


class ForgetsExpiry(MemoryLockStore):
    """A broken store: it lets a holder write after its lease lapsed."""

    async def check_fence(self, resource: str, token: int) -> bool:
        slot = self._slots.get(resource)  # pyright: ignore[reportPrivateUsage]
        return slot is not None and slot.token == token and slot.owner is not None


def test_the_machine_catches_a_store_that_forgets_expiry() -> None:
    with portal() as p, pytest.raises(AssertionError):
        run_machine(p, lambda clock: ForgetsExpiry(clock=clock), 300)
