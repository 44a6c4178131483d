"""Conformance suite: every MessageStore implementation must pass all of these."""

from __future__ import annotations

from datetime import UTC, datetime

import anyio
import pytest

from baton.errors import UsageError
from baton.store.messages import MemoryMessageStore, MessageStore
from baton.store.sql.database import Database
from baton.store.sql.messages import SqlMessageStore

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


@pytest.fixture
def store(store_database: Database | None) -> MessageStore:
    if store_database is None:
        return MemoryMessageStore(clock=lambda: T0)
    return SqlMessageStore(store_database, clock=lambda: T0)


async def test_append_then_read_and_get(store: MessageStore) -> None:
    first = await store.append("ex1", "plans", "planner", {"step": 1, "tags": ["a"]})
    second = await store.append("ex1", "plans", "critic", "ok", reply_to=first.id)
    assert first.id.startswith("msg_")
    assert (first.seq, second.seq) == (1, 2)
    assert (second.sender, second.body, second.reply_to, second.sent_at) == (
        "critic",
        "ok",
        first.id,
        T0,
    )
    assert await store.read("ex1", "plans") == [first, second]
    assert await store.read("ex1", "plans", after_seq=1) == [second]
    assert await store.read("ex1", "plans", after_seq=2) == []
    assert await store.get(first.id) == first
    assert await store.get("msg_missing") is None


async def test_sequences_are_per_execution_and_channel(store: MessageStore) -> None:
    seqs = [
        (await store.append(ex, ch, "s", i)).seq
        for i, (ex, ch) in enumerate(
            [("ex1", "a"), ("ex1", "b"), ("ex2", "a"), ("ex1", "a"), ("ex2", "a")]
        )
    ]
    assert seqs == [1, 1, 1, 2, 2]
    assert [m.body for m in await store.read("ex1", "a")] == [0, 3]
    assert [m.body for m in await store.read("ex2", "a")] == [2, 4]


async def test_read_with_a_limit(store: MessageStore) -> None:
    for i in range(5):
        await store.append("ex1", "c", "s", i)
    assert [m.seq for m in await store.read("ex1", "c", after_seq=1, limit=2)] == [2, 3]


async def test_concurrent_appends_are_gap_free(store: MessageStore) -> None:
    async def send(i: int) -> None:
        await store.append("ex1", "busy", f"agent{i % 3}", i)

    async with anyio.create_task_group() as tg:
        for i in range(30):
            tg.start_soon(send, i)
    messages = await store.read("ex1", "busy")
    assert [m.seq for m in messages] == list(range(1, 31))
    assert sorted(m.body for m in messages) == list(range(30))
    assert len({m.id for m in messages}) == 30


async def test_bodies_are_copied(store: MessageStore) -> None:
    body = {"items": [1]}
    sent = await store.append("ex1", "c", "s", body)
    body["items"].append(2)
    assert sent.body == {"items": [1]}
    assert (await store.read("ex1", "c"))[0].body == {"items": [1]}


async def test_bad_bodies_and_channels_are_refused(store: MessageStore) -> None:
    with pytest.raises(UsageError, match="not JSON"):
        await store.append("ex1", "c", "s", {"when": T0})
    with pytest.raises(UsageError, match="channel name"):
        await store.append("ex1", "", "s", 1)
    with pytest.raises(UsageError, match="channel name"):
        await store.append("ex1", "c" * 201, "s", 1)
    assert await store.read("ex1", "c") == []
