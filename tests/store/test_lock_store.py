"""Conformance suite: every LockStore implementation must pass all of these."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from baton.errors import UsageError
from baton.store.locks import Lease, LockStore, MemoryLockStore
from baton.store.sql.database import Database, open_database
from baton.store.sql.locks import SqlLockStore, fence_holds
from baton.store.sql.schema import create_schema
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
R = "calendar:dana@x.com"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_database: Database | None, clock: FakeClock) -> LockStore:
    # Backends (memory, sqlite, postgres) and their cleanup live in conftest.py.
    if store_database is None:
        return MemoryLockStore(clock=clock)
    return SqlLockStore(store_database, clock=clock)


async def acquired(store: LockStore, resource: str, owner: str, ttl_s: float = 10) -> Lease:
    lease = await store.acquire(resource, owner, ttl_s)
    assert lease is not None, f"{owner} could not acquire {resource}"
    return lease


async def test_acquire_a_free_resource(store: LockStore) -> None:
    lease = await acquired(store, R, "a", ttl_s=10)
    assert lease == Lease(resource=R, owner="a", token=1, expires_at=T0 + timedelta(seconds=10))
    assert await store.holder(R) == lease


async def test_a_held_resource_is_exclusive(store: LockStore, clock: FakeClock) -> None:
    await acquired(store, R, "a")
    clock.advance(9.999)
    assert await store.acquire(R, "b", 10) is None
    assert (await store.holder(R) or pytest.fail("free")).owner == "a"


async def test_resources_are_independent(store: LockStore) -> None:
    a = await acquired(store, R, "a")
    b = await acquired(store, "file:reports/q3.md", "b")
    assert (a.token, b.token) == (1, 1)


async def test_an_expired_lease_is_taken_over(store: LockStore, clock: FakeClock) -> None:
    old = await acquired(store, R, "a", ttl_s=10)
    clock.advance(10)  # expiry is exclusive: at expires_at the lease has lapsed
    assert await store.holder(R) is None
    new = await acquired(store, R, "b")
    assert new.token > old.token
    assert await store.renew(old, 10) is None
    await store.release(old)  # a stale release is a no-op
    assert await store.holder(R) == new


async def test_tokens_rise_across_release_and_reacquire(store: LockStore) -> None:
    tokens: list[int] = []
    for owner in ["a", "b", "a", "c"]:
        lease = await acquired(store, R, owner)
        tokens.append(lease.token)
        await store.release(lease)
        assert await store.holder(R) is None
    assert tokens == [1, 2, 3, 4]


async def test_reacquiring_ones_own_lock_issues_a_new_token(store: LockStore) -> None:
    first = await acquired(store, R, "a")
    second = await acquired(store, R, "a")
    assert second.token > first.token
    assert not await store.check_fence(R, first.token)
    assert await store.renew(first, 10) is None
    await store.release(first)
    assert await store.holder(R) == second


async def test_renew_extends_and_keeps_the_token(store: LockStore, clock: FakeClock) -> None:
    lease = await acquired(store, R, "a", ttl_s=10)
    clock.advance(8)
    renewed = await store.renew(lease, 10)
    assert renewed == Lease(
        resource=R, owner="a", token=lease.token, expires_at=T0 + timedelta(seconds=18)
    )
    clock.advance(9)  # past the first expiry, within the renewed one
    assert await store.acquire(R, "b", 10) is None
    assert await store.check_fence(R, lease.token)


async def test_renew_by_a_loser_fails(store: LockStore, clock: FakeClock) -> None:
    lease = await acquired(store, R, "a", ttl_s=10)
    forged = Lease(resource=R, owner="b", token=lease.token, expires_at=lease.expires_at)
    assert await store.renew(forged, 10) is None
    clock.advance(10)
    assert await store.renew(lease, 10) is None  # expired, even though nobody took it
    assert (
        await store.renew(Lease(resource="nothing", owner="a", token=1, expires_at=T0), 1) is None
    )


async def test_release_frees_only_for_the_current_lease(store: LockStore) -> None:
    lease = await acquired(store, R, "a")
    await store.release(Lease(resource=R, owner="b", token=lease.token, expires_at=T0))
    await store.release(Lease(resource=R, owner="a", token=lease.token + 1, expires_at=T0))
    assert await store.holder(R) == lease
    await store.release(lease)
    assert await store.holder(R) is None
    await store.release(lease)  # twice is fine
    await store.release(Lease(resource="never", owner="a", token=1, expires_at=T0))
    assert (await acquired(store, R, "b")).token == lease.token + 1


async def test_check_fence(store: LockStore, clock: FakeClock) -> None:
    assert not await store.check_fence(R, 0)
    first = await acquired(store, R, "a", ttl_s=10)
    assert await store.check_fence(R, first.token)
    assert not await store.check_fence(R, first.token + 1)
    assert not await store.check_fence("other", first.token)
    clock.advance(10)
    assert not await store.check_fence(R, first.token)  # expired: a paused holder is fenced
    second = await acquired(store, R, "b")
    assert not await store.check_fence(R, first.token)
    assert await store.check_fence(R, second.token)
    await store.release(second)
    assert not await store.check_fence(R, second.token)


@pytest.mark.parametrize("ttl_s", [0, -1.0])
async def test_ttl_must_be_positive(store: LockStore, ttl_s: float) -> None:
    with pytest.raises(UsageError, match="ttl"):
        await store.acquire(R, "a", ttl_s)
    lease = await acquired(store, R, "a")
    with pytest.raises(UsageError, match="ttl"):
        await store.renew(lease, ttl_s)


async def test_concurrent_acquirers_on_one_store_one_wins(store: LockStore) -> None:
    won: list[Lease] = []

    async def contend(owner: str) -> None:
        if (lease := await store.acquire(R, owner, 10)) is not None:
            won.append(lease)

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(contend, f"owner-{i}")
    assert len(won) == 1
    assert await store.holder(R) == won[0]


@pytest.fixture
async def databases(database_url: str) -> AsyncIterator[list[Database]]:
    """Four connections to one database: as many processes racing for the same locks."""
    dbs = [open_database(database_url) for _ in range(4)]
    try:
        await create_schema(dbs[0])
        yield dbs
    finally:
        for db in dbs:
            await db.dispose()


async def test_racing_processes_never_both_win(databases: list[Database]) -> None:
    clock = FakeClock()
    stores = [SqlLockStore(db, clock=clock) for db in databases]
    for round_ in range(15):
        # Fresh resources race on the INSERT; released ones race on the conflicting UPDATE.
        resource = f"r{round_ % 5}"
        won: list[Lease] = []

        async def contend(store: SqlLockStore, owner: str, resource: str, won: list[Lease]) -> None:
            if (lease := await store.acquire(resource, owner, 10)) is not None:
                won.append(lease)

        async with anyio.create_task_group() as tg:
            for i, store in enumerate(stores):
                tg.start_soon(contend, store, f"p{i}", resource, won)
        assert len(won) == 1, f"round {round_}: {won}"
        assert won[0].token == round_ // 5 + 1
        await stores[0].release(won[0])


async def test_fence_holds_inside_a_writers_transaction(database: Database) -> None:
    clock = FakeClock()
    store = SqlLockStore(database, clock=clock)
    lease = await acquired(store, R, "a", ttl_s=10)
    assert await database.transaction(lambda conn: fence_holds(conn, R, lease.token, clock()))
    later = clock() + timedelta(seconds=10)
    assert not await database.transaction(lambda conn: fence_holds(conn, R, lease.token, later))
    assert not await database.transaction(lambda conn: fence_holds(conn, R, 99, clock()))
