"""The messenger: request/response, broadcast, live delivery, and the store behind them."""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from anyio.abc import TaskStatus

import baton.comms
from baton.comms import BROADCAST, MessageHub, RequestTimeoutError, SharedContext
from baton.errors import UsageError
from baton.store.context import MemoryContextStore
from baton.store.messages import MemoryMessageStore, Message, MessageStore
from baton.store.sql.database import Database
from baton.store.sql.messages import SqlMessageStore

pytestmark = pytest.mark.anyio


@pytest.fixture
def store(store_database: Database | None) -> MessageStore:
    if store_database is None:
        return MemoryMessageStore()
    return SqlMessageStore(store_database)


@pytest.fixture
def hub(store: MessageStore) -> MessageHub:
    return MessageHub(store, "ex1")


def test_public_surface() -> None:
    assert baton.comms.__all__ == [
        "BROADCAST",
        "MessageHub",
        "Messenger",
        "RequestTimeoutError",
        "SharedContext",
        "Subscription",
    ]


async def test_request_gets_the_reply(hub: MessageHub, store: MessageStore) -> None:
    server = hub.messenger("pricer")
    client = hub.messenger("planner")

    async def price(request: Message) -> Any:
        return {"sku": request.body["sku"], "price": 12.5}

    replies: list[Message] = []
    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, "prices", price)
        replies.append(await client.request("prices", {"sku": "A1"}, timeout_s=5))
        replies.append(await client.request("prices", {"sku": "B2"}, timeout_s=5))
        tg.cancel_scope.cancel()
    reply, second = replies
    assert reply.body == {"sku": "A1", "price": 12.5}
    assert second.body["sku"] == "B2"
    assert reply.sender == "pricer"
    request = await store.get(reply.reply_to or "")
    assert request is not None
    assert (request.channel, request.sender, request.body) == ("prices", "planner", {"sku": "A1"})
    # Both sides are persisted: the requests on their channel, the replies in the inbox.
    assert [m.body["sku"] for m in await store.read("ex1", "prices")] == ["A1", "B2"]
    assert [m.reply_to for m in await store.read("ex1", "_inbox:planner")] == [
        reply.reply_to,
        second.reply_to,
    ]


async def test_concurrent_requests_each_get_their_own_reply(hub: MessageHub) -> None:
    server = hub.messenger("echo")
    client = hub.messenger("asker")
    replies: dict[int, Any] = {}

    async def echo(request: Message) -> Any:
        return request.body * 10

    async def ask(i: int) -> None:
        replies[i] = (await client.request("echo", i, timeout_s=5)).body

    async with anyio.create_task_group() as tg:
        await tg.start(server.serve, "echo", echo)
        async with anyio.create_task_group() as askers:
            for i in range(5):
                askers.start_soon(ask, i)
        tg.cancel_scope.cancel()
    assert replies == {i: i * 10 for i in range(5)}


async def test_a_request_nobody_answers_times_out_clearly(hub: MessageHub) -> None:
    client = hub.messenger("planner")
    with anyio.fail_after(5), pytest.raises(RequestTimeoutError) as raised:
        await client.request("nobody", {"q": 1}, timeout_s=0.05)
    assert raised.value.retryable
    assert "no reply on channel 'nobody' within 0.05s" in str(raised.value)
    assert "is an agent serving that channel?" in str(raised.value)


async def test_broadcast_reaches_every_live_subscriber_once_in_order(
    hub: MessageHub, store: MessageStore
) -> None:
    senders = [hub.messenger(f"agent{i}") for i in range(3)]
    got: dict[int, list[Message]] = {}

    async def listen(i: int, *, task_status: TaskStatus[None]) -> None:
        async with senders[i].broadcasts() as subscription:
            task_status.started()
            got[i] = [await subscription.receive() for _ in range(9)]

    async with anyio.create_task_group() as tg:
        for i in range(3):
            await tg.start(listen, i)
        async with anyio.create_task_group() as sending:
            for sender in senders:
                for n in range(3):
                    sending.start_soon(sender.broadcast, {"from": sender.sender, "n": n})
    stored = await store.read("ex1", BROADCAST)
    assert [m.seq for m in stored] == list(range(1, 10))
    for i in range(3):
        assert got[i] == stored  # the same messages, each once, in stored order


async def test_a_late_subscriber_reads_the_store_then_goes_live(hub: MessageHub) -> None:
    early = hub.messenger("early")
    late = hub.messenger("late")
    for n in range(3):
        await early.send("news", n)
    assert [m.body for m in await late.history("news")] == [0, 1, 2]
    assert [m.body for m in await late.history("news", after_seq=2)] == [2]
    async with late.subscribe("news", after_seq=1) as subscription:
        await early.send("news", 3)
        received = [await subscription.receive() for _ in range(3)]
    assert [(m.seq, m.body) for m in received] == [(2, 1), (3, 2), (4, 3)]


async def test_messages_are_persisted_and_reported_before_delivery(store: MessageStore) -> None:
    reported: list[Message] = []
    hub = MessageHub(store, "ex1", on_message=reported.append)
    alice, bob = hub.messenger("alice"), hub.messenger("bob")
    seen: list[tuple[Message, Message | None, bool]] = []
    async with bob.subscribe("chat") as subscription:
        sent = await alice.send("chat", {"hi": "bob"})
        message = await subscription.receive()
        seen.append((message, await store.get(message.id), message in reported))
    assert seen == [(sent, sent, True)]
    assert reported == [sent]


async def test_reserved_channels_and_bad_bodies_are_refused(hub: MessageHub) -> None:
    agent = hub.messenger("a")
    with pytest.raises(UsageError, match="reserved"):
        await agent.send(BROADCAST, 1)
    with pytest.raises(UsageError, match="reserved"):
        await agent.request("_inbox:b", 1, timeout_s=1)
    with pytest.raises(UsageError, match="not JSON"):
        await agent.send("c", {1, 2})
    with pytest.raises(UsageError, match="sender"):
        hub.messenger("")


async def test_shared_context_is_bound_to_its_execution() -> None:
    store = MemoryContextStore()
    ex1 = SharedContext(store, workspace_id="ws", execution_id="ex1")
    ex2 = SharedContext(store, workspace_id="ws", execution_id="ex2")
    await ex1.set("k", {"v": 1})
    await ex1.workspace.set("k", "shared")
    assert await ex1.value("k") == {"v": 1}
    assert await ex2.value("k", "none") == "none"
    assert await ex2.workspace.value("k") == "shared"
    first = await ex2.compare_and_set("k", 1, expected_version=None)
    assert first is not None
    assert await ex2.compare_and_set("k", 2, expected_version=first.version) is not None
    assert await ex2.keys() == ["k"]
    assert await ex2.delete("k")
    assert (await ex1.get("k")) is not None
    assert ex1.scope.execution_id == "ex1"
    assert ex1.workspace.scope.execution_id is None
