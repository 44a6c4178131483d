"""Conformance suite: every ContextStore implementation must pass all of these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest
import sqlalchemy as sa

from baton.errors import StoreError, UsageError
from baton.store.context import ContextScope, ContextStore, MemoryContextStore
from baton.store.sql.context import SqlContextStore
from baton.store.sql.database import Database
from support.clock import FakeClock

pytestmark = pytest.mark.anyio

EX1 = ContextScope(workspace_id="ws1", execution_id="ex1")
EX2 = ContextScope(workspace_id="ws1", execution_id="ex2")
WS1 = ContextScope(workspace_id="ws1")
WS2 = ContextScope(workspace_id="ws2")
OTHER_WS_EX1 = ContextScope(workspace_id="ws2", execution_id="ex1")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(store_database: Database | None, clock: FakeClock) -> ContextStore:
    if store_database is None:
        return MemoryContextStore(clock=clock)
    return SqlContextStore(store_database, clock=clock)


async def test_set_then_get_round_trips_json(store: ContextStore) -> None:
    value: dict[str, Any] = {"a": [1, 2.5, "x", None, True], "b": {"c": "é"}}
    written = await store.set(EX1, "k", value)
    got = await store.get(EX1, "k")
    assert got == written
    assert got is not None
    assert (got.value, got.version, got.expires_at, got.secret) == (value, 1, None, False)


async def test_missing_key_is_none(store: ContextStore) -> None:
    assert await store.get(EX1, "nope") is None


async def test_every_write_bumps_the_version(store: ContextStore) -> None:
    assert (await store.set(EX1, "k", 1)).version == 1
    assert (await store.set(EX1, "k", 2)).version == 2
    entry = await store.get(EX1, "k")
    assert entry is not None
    assert (entry.value, entry.version) == (2, 2)


async def test_scopes_never_see_each_others_keys(store: ContextStore) -> None:
    scopes = [EX1, EX2, WS1, WS2, OTHER_WS_EX1]
    for i, scope in enumerate(scopes):
        await store.set(scope, "shared", i)
    for i, scope in enumerate(scopes):
        entry = await store.get(scope, "shared")
        assert entry is not None
        assert (entry.value, entry.version, entry.scope) == (i, 1, scope)
        assert await store.keys(scope) == ["shared"]
    assert await store.delete(EX1, "shared")
    assert await store.get(EX2, "shared") is not None
    assert await store.get(OTHER_WS_EX1, "shared") is not None


async def test_ttl_expiry_hides_then_purge_removes(store: ContextStore, clock: FakeClock) -> None:
    written = await store.set(EX1, "short", "v", ttl_s=10)
    await store.set(EX1, "long", "v", ttl_s=100)
    await store.set(EX1, "forever", "v")
    assert written.expires_at == clock.now + timedelta(seconds=10)
    clock.advance(9.9)
    assert await store.get(EX1, "short") is not None
    clock.advance(0.1)
    assert await store.get(EX1, "short") is None
    assert await store.keys(EX1) == ["forever", "long"]
    assert not await store.delete(EX1, "short")  # expired: was not there
    await store.set(EX2, "short", "v", ttl_s=1)
    clock.advance(1)
    assert await store.purge_expired() == 1  # only EX2's ("short" of EX1 was deleted)
    assert await store.purge_expired() == 0
    assert await store.keys(EX1) == ["forever", "long"]


async def test_writing_over_an_expired_entry_continues_its_version(
    store: ContextStore, clock: FakeClock
) -> None:
    await store.set(EX1, "k", 1, ttl_s=1)
    clock.advance(2)
    entry = await store.set(EX1, "k", 2)
    assert (entry.version, entry.expires_at) == (2, None)  # no ABA: versions never repeat


async def test_cas_expecting_absent(store: ContextStore, clock: FakeClock) -> None:
    created = await store.compare_and_set(EX1, "k", "a", expected_version=None)
    assert created is not None
    assert created.version == 1
    assert await store.compare_and_set(EX1, "k", "b", expected_version=None) is None
    assert (await store.get(EX1, "k")).value == "a"  # type: ignore[union-attr]
    await store.set(EX1, "t", 1, ttl_s=5)
    clock.advance(5)
    replaced = await store.compare_and_set(EX1, "t", 2, expected_version=None)
    assert replaced is not None
    assert replaced.value == 2


async def test_cas_expecting_a_version(store: ContextStore, clock: FakeClock) -> None:
    await store.set(EX1, "k", "a")
    assert await store.compare_and_set(EX1, "k", "x", expected_version=2) is None
    assert await store.compare_and_set(EX1, "missing", "x", expected_version=1) is None
    swapped = await store.compare_and_set(EX1, "k", "b", expected_version=1, ttl_s=3)
    assert swapped is not None
    assert (swapped.value, swapped.version) == ("b", 2)
    assert await store.compare_and_set(EX1, "k", "c", expected_version=1) is None
    got = await store.get(EX1, "k")
    assert got is not None
    assert (got.value, got.version) == ("b", 2)
    clock.advance(3)  # expired: its version no longer matches anything
    assert await store.compare_and_set(EX1, "k", "d", expected_version=2) is None


async def test_concurrent_cas_with_the_same_version_exactly_one_wins(
    store: ContextStore,
) -> None:
    await store.set(EX1, "counter", 0)
    results: list[object] = []

    async def bump(i: int) -> None:
        results.append(await store.compare_and_set(EX1, "counter", i, expected_version=1))

    async with anyio.create_task_group() as tg:
        for i in range(1, 9):
            tg.start_soon(bump, i)
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    got = await store.get(EX1, "counter")
    assert got == winners[0]
    assert got is not None
    assert got.version == 2


async def test_concurrent_creates_exactly_one_wins(store: ContextStore) -> None:
    results: list[object] = []

    async def create(i: int) -> None:
        results.append(await store.compare_and_set(EX1, "lock", i, expected_version=None))

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(create, i)
    assert len([r for r in results if r is not None]) == 1


async def test_delete_and_keys_by_prefix(store: ContextStore) -> None:
    for key in ["a/1", "a/2", "A/3", "b/1", "a%", "a_x"]:
        await store.set(EX1, key, key)
    assert await store.keys(EX1, "a/") == ["a/1", "a/2"]
    assert await store.keys(EX1, "a%") == ["a%"]  # LIKE wildcards are literal
    assert await store.keys(EX1, "a_") == ["a_x"]
    assert await store.delete(EX1, "a/1")
    assert not await store.delete(EX1, "a/1")
    assert await store.keys(EX1, "a/") == ["a/2"]
    assert (await store.set(EX1, "a/1", 0)).version == 1  # a deleted key starts again


@pytest.mark.parametrize(
    "value",
    [{1, 2}, b"bytes", float("nan"), {"k": object()}, {1: "int key"}, [datetime.now(UTC)]],
)
async def test_non_json_values_are_refused(store: ContextStore, value: object) -> None:
    with pytest.raises(UsageError, match="context value"):
        await store.set(EX1, "k", value)
    assert await store.get(EX1, "k") is None


async def test_bad_keys_and_ttls_are_refused(store: ContextStore) -> None:
    with pytest.raises(UsageError, match="context key"):
        await store.set(EX1, "", 1)
    with pytest.raises(UsageError, match="context key"):
        await store.set(EX1, "x" * 256, 1)
    with pytest.raises(UsageError, match="ttl_s"):
        await store.set(EX1, "k", 1, ttl_s=0)


async def test_secrets_read_back_and_are_masked(store: ContextStore) -> None:
    written = await store.set(EX1, "token", {"api_key": "sk-live-123"}, secret=True)
    got = await store.get(EX1, "token")
    assert got == written
    assert got is not None
    assert got.secret
    assert got.value == {"api_key": "sk-live-123"}
    assert "sk-live-123" not in repr(got)
    assert got.display_value == "***"
    plain = await store.set(EX1, "token", "public")  # overwriting clears the flag
    assert (plain.secret, plain.display_value) == (False, "public")


async def test_secrets_are_never_stored_in_clear(database: Database) -> None:
    store = SqlContextStore(database)
    await store.set(EX1, "token", "sk-live-123", secret=True)
    await store.compare_and_set(EX1, "cas", "sk-live-456", expected_version=None, secret=True)
    rows = await database.transaction(
        lambda conn: conn.execute(sa.text("SELECT * FROM shared_context")).all()
    )
    assert len(rows) == 2
    dump = repr([tuple(r) for r in rows])
    assert "sk-live" not in dump
    # Another process (another vault) cannot read it, and says so.
    with pytest.raises(StoreError, match="not available in this process"):
        await SqlContextStore(database).get(EX1, "token")
