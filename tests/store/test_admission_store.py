"""Conformance suite: every AdmissionStore implementation must pass all of these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from baton.errors import UsageError
from baton.store.rate_limits import AdmissionStore, MemoryAdmissionStore
from baton.store.sql.database import Database, open_database
from baton.store.sql.rate_limits import SqlAdmissionStore
from baton.store.sql.schema import create_schema

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
K = "http:api.example.com"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(store_database: Database | None) -> AdmissionStore:
    # Backends (memory, sqlite, postgres) and their cleanup live in conftest.py.
    if store_database is None:
        return MemoryAdmissionStore()
    return SqlAdmissionStore(store_database)


async def test_admits_up_to_the_quota_then_says_how_long_to_wait(store: AdmissionStore) -> None:
    assert await store.try_admit(K, 3, 10, at(0)) is None
    assert await store.try_admit(K, 3, 10, at(1)) is None
    assert await store.try_admit(K, 3, 10, at(2.5)) is None
    # The oldest admission (at 0) leaves the window at 10.
    assert await store.try_admit(K, 3, 10, at(4)) == pytest.approx(6)
    assert await store.try_admit(K, 3, 10, at(9.75)) == pytest.approx(0.25)


async def test_the_window_slides(store: AdmissionStore) -> None:
    for t in (0, 1, 2):
        assert await store.try_admit(K, 3, 10, at(t)) is None
    assert await store.try_admit(K, 3, 10, at(9.9)) == pytest.approx(0.1)
    # At 10 the admission of 0 has left the half-open window (0, 10]: one slot frees.
    assert await store.try_admit(K, 3, 10, at(10)) is None
    assert await store.try_admit(K, 3, 10, at(10.5)) == pytest.approx(0.5)
    assert await store.try_admit(K, 3, 10, at(11)) is None
    # Now the window (1.5, 11.5] holds 2, 10 and 11: the next slot frees at 12.
    assert await store.try_admit(K, 3, 10, at(11.5)) == pytest.approx(0.5)
    # After an idle window a full burst is allowed again, and never more.
    for t in (30, 30, 30):
        assert await store.try_admit(K, 3, 10, at(t)) is None
    assert await store.try_admit(K, 3, 10, at(30)) == pytest.approx(10)


async def test_sub_second_windows(store: AdmissionStore) -> None:
    assert await store.try_admit(K, 1, 0.05, at(0)) is None
    assert await store.try_admit(K, 1, 0.05, at(0.01)) == pytest.approx(0.04)
    assert await store.try_admit(K, 1, 0.05, at(0.05)) is None


async def test_keys_are_independent(store: AdmissionStore) -> None:
    assert await store.try_admit("a", 1, 10, at(0)) is None
    assert await store.try_admit("b", 1, 10, at(0)) is None
    assert await store.try_admit("a", 1, 10, at(1)) == pytest.approx(9)
    assert await store.try_admit("b", 2, 10, at(1)) is None  # b's own quota, its own size


async def test_prune_forgets_old_admissions(store: AdmissionStore) -> None:
    for t in (0, 1, 2):
        assert await store.try_admit("a", 5, 100, at(t)) is None
    assert await store.try_admit("b", 5, 100, at(3)) is None
    assert await store.prune(at(2)) == 2
    assert await store.prune(at(2)) == 0
    # What is left still counts: "a" keeps its admission at 2 ("b"'s at 3 is not "a"'s).
    assert await store.try_admit("a", 2, 100, at(4)) is None
    assert await store.try_admit("a", 2, 100, at(5)) == pytest.approx(97)


async def test_bad_arguments_are_usage_errors(store: AdmissionStore) -> None:
    with pytest.raises(UsageError):
        await store.try_admit(K, 0, 10, at(0))
    with pytest.raises(UsageError):
        await store.try_admit(K, 1, 0, at(0))
    with pytest.raises(UsageError):
        await store.try_admit(K, 1, 10, datetime(2026, 3, 9, 9, 0))
    with pytest.raises(UsageError):
        await store.prune(datetime(2026, 3, 9, 9, 0))


async def test_concurrent_admitters_in_one_process_never_exceed_the_quota(
    store: AdmissionStore,
) -> None:
    admitted: list[int] = []

    async def admit(i: int) -> None:
        if await store.try_admit(K, 4, 10, at(i * 0.001)) is None:
            admitted.append(i)

    async with anyio.create_task_group() as tg:
        for i in range(20):
            tg.start_soon(admit, i)
    assert len(admitted) == 4


async def test_admitters_on_separate_connections_never_exceed_the_quota(
    database_url: str,
) -> None:
    """Separate `Database`s on one URL stand for separate processes sharing the database."""
    quota, processes, tries = 5, 6, 4
    first = open_database(database_url)
    await create_schema(first)
    dbs = [first, *(open_database(database_url) for _ in range(processes - 1))]
    admitted: list[datetime] = []
    refused: list[float] = []

    async def process(db: Database, p: int) -> None:
        store = SqlAdmissionStore(db)
        for i in range(tries):
            now = at(p * 0.001 + i * 0.01)
            wait = await store.try_admit(K, quota, 60, now)
            if wait is None:
                admitted.append(now)
            else:
                refused.append(wait)

    try:
        async with anyio.create_task_group() as tg:
            for p, db in enumerate(dbs):
                tg.start_soon(process, db, p)
    finally:
        for db in dbs:
            await db.dispose()
    assert len(admitted) == quota
    assert len(refused) == processes * tries - quota
    assert all(0 < w <= 60 for w in refused)
