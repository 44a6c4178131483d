"""Conformance suite: every ResultCacheStore (memory, SQLite, PostgreSQL) must pass these."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from baton.store.result_cache import (
    AgentCacheStats,
    CacheEntry,
    MemoryResultCacheStore,
    ResultCacheStore,
)
from baton.store.sql.database import Database
from baton.store.sql.result_cache import SqlResultCacheStore
from support.clock import T0

pytestmark = pytest.mark.anyio

HOUR = timedelta(hours=1)


@pytest.fixture
def store(store_database: Database | None) -> ResultCacheStore:
    return (
        MemoryResultCacheStore() if store_database is None else SqlResultCacheStore(store_database)
    )


def entry(**changes: Any) -> CacheEntry:
    values: dict[str, Any] = {
        "workspace_id": "default",
        "agent": "text.upper",
        "output": {"text": "HELLO", "nested": {"n": [1, 2.5, None, True]}},
        "created_at": T0,
        "expires_at": T0 + HOUR,
    }
    return CacheEntry(**(values | changes))


async def test_get_returns_the_output_until_it_expires(store: ResultCacheStore) -> None:
    await store.put("k1", entry())

    assert await store.get("k1", T0) == {"text": "HELLO", "nested": {"n": [1, 2.5, None, True]}}
    assert await store.get("k1", T0 + HOUR - timedelta(seconds=1)) is not None
    assert await store.get("k1", T0 + HOUR) is None
    assert await store.get("missing", T0) is None


async def test_hits_are_counted_and_an_expired_read_is_not(store: ResultCacheStore) -> None:
    await store.put("k1", entry())
    await store.get("k1", T0)
    await store.get("k1", T0 + timedelta(minutes=1))
    await store.get("k1", T0 + HOUR)  # expired: no hit

    stats = await store.stats("default")

    assert (stats.entries, stats.hits) == (1, 2)


async def test_put_replaces_the_entry_under_a_key(store: ResultCacheStore) -> None:
    await store.put("k1", entry())
    await store.get("k1", T0)
    await store.put("k1", entry(output={"text": "NEW"}, expires_at=T0 + 2 * HOUR))

    assert await store.get("k1", T0 + HOUR) == {"text": "NEW"}
    stats = await store.stats("default")
    assert (stats.entries, stats.hits) == (1, 1)  # the replaced entry's hit is gone


async def test_purge_drops_expired_entries_of_every_workspace(store: ResultCacheStore) -> None:
    await store.put("old", entry(expires_at=T0 + timedelta(minutes=1)))
    await store.put("old2", entry(workspace_id="ws_b", expires_at=T0 + timedelta(minutes=2)))
    await store.put("fresh", entry())

    assert await store.purge_expired(T0 + timedelta(minutes=5)) == 2
    assert await store.purge_expired(T0 + timedelta(minutes=5)) == 0
    assert await store.get("fresh", T0) is not None
    assert (await store.stats("ws_b")).entries == 0


async def test_clear_one_workspace_or_one_agent(store: ResultCacheStore) -> None:
    await store.put("a1", entry(agent="a"))
    await store.put("a2", entry(agent="a"))
    await store.put("b1", entry(agent="b"))
    await store.put("other", entry(workspace_id="ws_b", agent="a"))

    assert await store.clear("default", agent="a") == 2
    assert await store.get("b1", T0) is not None
    assert await store.clear("default") == 1
    assert await store.clear("default") == 0
    assert await store.get("other", T0) is not None


async def test_stats_per_agent_and_per_workspace(store: ResultCacheStore) -> None:
    await store.put("a1", entry(agent="a"))
    await store.put("a2", entry(agent="a"))
    await store.put("b1", entry(agent="b"))
    await store.put("other", entry(workspace_id="ws_b", agent="c"))
    for _ in range(3):
        await store.get("a2", T0)
    await store.get("b1", T0)

    stats = await store.stats("default")

    assert (stats.entries, stats.hits) == (3, 4)
    assert stats.by_agent == {
        "a": AgentCacheStats(entries=2, hits=3),
        "b": AgentCacheStats(entries=1, hits=1),
    }
    empty = await store.stats("ws_none")
    assert (empty.entries, empty.hits, empty.by_agent) == (0, 0, {})


async def test_changing_what_was_read_or_put_does_not_change_the_entry(
    store: ResultCacheStore,
) -> None:
    put = entry(output={"items": [1, 2]})
    await store.put("k1", put)
    put.output["items"].append(3)
    got = await store.get("k1", T0)
    assert got is not None
    assert got == {"items": [1, 2]}
    got["items"].append(4)

    assert await store.get("k1", T0) == {"items": [1, 2]}
