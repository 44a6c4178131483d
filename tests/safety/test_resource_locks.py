"""ResourceLocks.hold: ordered acquisition, background renewal, release however the block ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

import baton.safety
from baton.errors import UsageError
from baton.safety import LockLostError, LockTimeoutError, ResourceLocks
from baton.store.locks import Lease, LockStore, MemoryLockStore
from baton.store.sql.database import Database
from baton.store.sql.locks import SqlLockStore

pytestmark = pytest.mark.anyio


class Recording(MemoryLockStore):
    """A memory store that remembers the order in which resources were asked for."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.asked: list[tuple[str, str]] = []

    async def acquire(self, resource: str, owner: str, ttl_s: float) -> Lease | None:
        self.asked.append((owner, resource))
        return await super().acquire(resource, owner, ttl_s)


@pytest.fixture
def store(store_database: Database | None) -> LockStore:
    if store_database is None:
        return MemoryLockStore()
    return SqlLockStore(store_database)


def test_public_names() -> None:
    assert {"HeldLocks", "LockLostError", "LockTimeoutError", "ResourceLocks"} <= set(
        baton.safety.__all__
    )


async def test_resources_are_taken_in_sorted_order_once_each() -> None:
    store = Recording()
    locks = ResourceLocks(store)
    async with locks.hold(["file:b", "calendar:z", "file:b", "calendar:a"], "me", 10) as held:
        assert list(held.tokens) == ["calendar:a", "calendar:z", "file:b"]
        assert held.token("file:b") == 1
        assert held.owner == "me"
        with pytest.raises(UsageError, match="not locked by this block"):
            held.token("file:other")
    assert store.asked == [("me", "calendar:a"), ("me", "calendar:z"), ("me", "file:b")]
    for resource in held.tokens:
        assert await store.holder(resource) is None


async def test_crossed_resource_sets_never_deadlock(store: LockStore) -> None:
    locks = ResourceLocks(store, poll_s=0.001, max_poll_s=0.01, timeout_s=20)
    inside: set[str] = set()
    overlaps: list[set[str]] = []
    done: list[str] = []

    async def worker(name: str, resources: list[str]) -> None:
        for _ in range(5):
            async with locks.hold(resources, name, 10):
                if inside:
                    overlaps.append({*inside, name})
                inside.add(name)
                await anyio.sleep(0.002)
                inside.discard(name)
        done.append(name)

    with anyio.fail_after(30):
        async with anyio.create_task_group() as tg:
            tg.start_soon(worker, "ab", ["a", "b"])
            tg.start_soon(worker, "ba", ["b", "a"])
            tg.start_soon(worker, "b-only", ["b"])
    assert sorted(done) == ["ab", "b-only", "ba"]
    assert overlaps == []
    assert await store.holder("a") is None
    assert await store.holder("b") is None


async def test_released_when_the_block_raises(store: LockStore) -> None:
    locks = ResourceLocks(store)

    async def fail_inside() -> None:
        async with locks.hold(["x", "y"], "me", 10) as held:
            assert await store.check_fence("x", held.token("x"))
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        await fail_inside()
    assert await store.holder("x") is None
    assert await store.holder("y") is None


async def test_released_when_the_block_is_cancelled(store: LockStore) -> None:
    locks = ResourceLocks(store)
    entered = anyio.Event()

    async def hold_forever() -> None:
        async with locks.hold(["x", "y"], "me", 10):
            entered.set()
            await anyio.sleep_forever()

    async with anyio.create_task_group() as tg:
        tg.start_soon(hold_forever)
        await entered.wait()
        assert await store.holder("x") is not None
        tg.cancel_scope.cancel()
    assert await store.holder("x") is None
    assert await store.holder("y") is None


async def test_a_busy_resource_times_out_retryably(store: LockStore) -> None:
    other = await store.acquire("b", "other-step", 30)
    assert other is not None
    locks = ResourceLocks(store, poll_s=0.01)
    with anyio.fail_after(5), pytest.raises(LockTimeoutError) as timed_out:
        async with locks.hold(["a", "b"], "me", 10, timeout_s=0.2):
            pytest.fail("entered without the lock")
    error = timed_out.value
    assert error.retryable
    assert (error.resource, error.holder) == ("b", "other-step")
    assert "'b'" in str(error)
    assert "other-step" in str(error)
    assert await store.holder("a") is None  # what it had taken is given back
    assert await store.holder("b") == other


async def test_waits_for_a_busy_resource_then_enters(store: LockStore) -> None:
    other = await store.acquire("b", "other-step", 30)
    assert other is not None
    locks = ResourceLocks(store, poll_s=0.005, max_poll_s=0.02)

    async def release_soon() -> None:
        await anyio.sleep(0.1)
        await store.release(other)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as tg:
            tg.start_soon(release_soon)
            async with locks.hold(["b"], "me", 10) as held:
                assert held.token("b") == other.token + 1


async def test_leases_are_renewed_while_the_block_runs(store: LockStore) -> None:
    locks = ResourceLocks(store)
    async with locks.hold(["x"], "me", ttl_s=0.3) as held:
        await anyio.sleep(0.8)  # well past the first lease
        assert await store.check_fence("x", held.token("x"))
        holder = await store.holder("x")
        assert holder is not None
        assert holder.owner == "me"
    assert await store.holder("x") is None


async def test_a_lost_lease_stops_the_block() -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    store = MemoryLockStore(clock=lambda: now[0])
    locks = ResourceLocks(store)
    reached_the_end: list[bool] = []

    async def stall() -> None:
        async with locks.hold(["x"], "me", ttl_s=0.15):
            # The process stalls past its lease; another takes the resource.
            now[0] += timedelta(seconds=1)
            assert await store.acquire("x", "thief", 30) is not None
            await anyio.sleep(5)
            reached_the_end.append(True)

    with anyio.fail_after(5), pytest.raises(LockLostError) as lost:
        await stall()
    assert not reached_the_end
    assert lost.value.retryable
    assert lost.value.resource == "x"
    holder = await store.holder("x")
    assert holder is not None
    assert holder.owner == "thief"  # our release did not free the thief's lock


async def test_nothing_to_hold() -> None:
    locks = ResourceLocks(MemoryLockStore())
    async with locks.hold([], "me") as held:
        assert dict(held.tokens) == {}
