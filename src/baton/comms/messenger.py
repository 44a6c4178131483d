"""The agent messenger: channels, broadcast, and request/response between agents.

One `MessageHub` per execution holds the live subscribers; each agent gets a `Messenger` from
it, bound to its own sender name (what ``ctx.messenger`` will be). Sending a message:

1. persists it (`MessageStore.append`, which numbers it in its channel),
2. hands it to `on_message` (the hook that will turn it into an execution event),
3. puts it in the memory stream of every live subscriber of the channel.

The three happen under the channel's lock, so subscribers and the hook see a channel's
messages in their stored order, each once. Streams are unbounded: a slow subscriber never
holds a sender up. Delivery is in-process; a subscriber elsewhere (or one that joins late)
reads the channel from the store (`Messenger.history`, or ``subscribe(after_seq=...)``, which
replays the stored backlog and then goes live without a gap).

Reserved channels start with ``_``: `BROADCAST` (every agent of the execution) and each
sender's inbox (``_inbox:NAME``), where replies to its requests arrive.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import anyio
from anyio.abc import TaskStatus
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from baton.errors import RunError, UsageError
from baton.store.messages import Message, MessageStore

__all__ = [
    "BROADCAST",
    "Handler",
    "MessageHub",
    "Messenger",
    "OnMessage",
    "RequestTimeoutError",
    "Subscription",
    "inbox",
]

BROADCAST = "_broadcast"
"""The channel every agent of an execution may listen on."""

OnMessage = Callable[[Message], None]
"""Called with each message once it is stored (e.g. to record it as an execution event)."""

Handler = Callable[[Message], Awaitable[Any]]
"""Answers a request: returns the reply's JSON body."""


def inbox(sender: str) -> str:
    """The channel where replies to `sender`'s requests arrive."""
    return f"_inbox:{sender}"


class RequestTimeoutError(RunError):
    """No reply to a request came within its timeout. Retryable: the server may be busy."""

    retryable = True


class Subscription:
    """A live subscriber of one channel: an async iterator of its messages, in order."""

    def __init__(self, channel: str) -> None:
        self.channel = channel
        """The channel subscribed to."""
        self._send: MemoryObjectSendStream[Message]
        self._receive: MemoryObjectReceiveStream[Message]
        self._send, self._receive = anyio.create_memory_object_stream[Message](math.inf)
        self._last_seq = 0

    def _deliver(self, message: Message) -> None:
        if message.seq > self._last_seq:  # once each, even if replay and live overlap
            self._last_seq = message.seq
            self._send.send_nowait(message)

    def _close(self) -> None:
        self._send.close()
        self._receive.close()

    async def receive(self) -> Message:
        """The next message (waits for one)."""
        return await self._receive.receive()

    def __aiter__(self) -> AsyncIterator[Message]:
        return self._receive.__aiter__()


class MessageHub:
    """One execution's messaging: persists messages and delivers them to live subscribers."""

    def __init__(
        self, store: MessageStore, execution_id: str, *, on_message: OnMessage | None = None
    ) -> None:
        """Persist to `store` under `execution_id`; call `on_message` with each stored one."""
        self._store = store
        self.execution_id = execution_id
        """The execution whose messages this hub carries."""
        self._on_message = on_message
        self._subscribers: dict[str, list[Subscription]] = {}
        self._locks: dict[str, anyio.Lock] = {}

    def messenger(self, sender: str) -> Messenger:
        """A `Messenger` sending as `sender` (an agent or step name)."""
        if not sender:
            raise UsageError("a messenger needs a sender name")
        return Messenger(self, sender)

    async def publish(
        self, channel: str, sender: str, body: Any, *, reply_to: str | None = None
    ) -> Message:
        """Persist a message, report it, then deliver it to the channel's live subscribers."""
        async with self._lock(channel):
            message = await self._store.append(
                self.execution_id, channel, sender, body, reply_to=reply_to
            )
            if self._on_message is not None:
                self._on_message(message)
            for subscription in self._subscribers.get(channel, ()):
                subscription._deliver(message)  # pyright: ignore[reportPrivateUsage]
        return message

    @asynccontextmanager
    async def subscribe(
        self, channel: str, *, after_seq: int | None = None
    ) -> AsyncIterator[Subscription]:
        """Receive the channel's messages while the block runs.

        Args:
            channel: The channel.
            after_seq: None: only messages sent from now on. A number: first the stored
                messages after it (0: all of them), then live ones, without a gap.
        """
        subscription = Subscription(channel)
        async with self._lock(channel):
            if after_seq is not None:
                for message in await self._store.read(self.execution_id, channel, after_seq):
                    subscription._deliver(message)  # pyright: ignore[reportPrivateUsage]
            self._subscribers.setdefault(channel, []).append(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[channel].remove(subscription)
            subscription._close()  # pyright: ignore[reportPrivateUsage]

    async def history(self, channel: str, after_seq: int = 0) -> list[Message]:
        """The channel's stored messages after `after_seq`, oldest first."""
        return await self._store.read(self.execution_id, channel, after_seq)

    def _lock(self, channel: str) -> anyio.Lock:
        return self._locks.setdefault(channel, anyio.Lock())


def _check_user_channel(channel: str) -> None:
    if channel.startswith("_"):
        raise UsageError(
            f"channel {channel!r} is reserved (names starting with '_' are baton's)",
            hint="use broadcast() for the broadcast channel; replies go to inboxes by themselves",
        )


class Messenger:
    """How one agent talks to the other agents of its execution."""

    def __init__(self, hub: MessageHub, sender: str) -> None:
        """Send through `hub` as `sender` (use `MessageHub.messenger`)."""
        self._hub = hub
        self.sender = sender
        """Who this messenger's messages come from."""

    async def send(self, channel: str, body: Any) -> Message:
        """Send a JSON `body` on `channel`; return it as stored (with its ``seq``).

        Raises:
            UsageError: the body is not JSON, or the channel is reserved or invalid.
        """
        _check_user_channel(channel)
        return await self._hub.publish(channel, self.sender, body)

    async def broadcast(self, body: Any) -> Message:
        """Send a JSON `body` to every agent of the execution listening on `BROADCAST`."""
        return await self._hub.publish(BROADCAST, self.sender, body)

    def subscribe(
        self, channel: str, *, after_seq: int | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Receive `channel`'s messages while the block runs (see `MessageHub.subscribe`)."""
        return self._hub.subscribe(channel, after_seq=after_seq)

    def broadcasts(
        self, *, after_seq: int | None = None
    ) -> AbstractAsyncContextManager[Subscription]:
        """Receive the execution's broadcasts while the block runs."""
        return self._hub.subscribe(BROADCAST, after_seq=after_seq)

    async def history(self, channel: str, after_seq: int = 0) -> list[Message]:
        """`channel`'s stored messages after `after_seq`: how a late joiner catches up."""
        return await self._hub.history(channel, after_seq)

    async def request(self, to_channel: str, body: Any, *, timeout_s: float) -> Message:
        """Send a request on `to_channel` and wait for its reply.

        Returns:
            The reply (its ``body`` is the answer, its ``reply_to`` the request's id).

        Raises:
            RequestTimeoutError: no reply within `timeout_s` (nobody serving, or too slow).
        """
        _check_user_channel(to_channel)
        # Listen before asking, so that a fast reply cannot be missed.
        async with self._hub.subscribe(inbox(self.sender)) as replies:
            request = await self._hub.publish(to_channel, self.sender, body)
            with anyio.move_on_after(timeout_s):
                async for message in replies:
                    if message.reply_to == request.id:
                        return message
        raise RequestTimeoutError(
            f"no reply on channel {to_channel!r} within {timeout_s:g}s "
            f"to request {request.id} from {self.sender!r}",
            hint="is an agent serving that channel? raise timeout_s if it is slow",
        )

    async def reply(self, request: Message, body: Any) -> Message:
        """Answer `request`: the reply goes to its sender's inbox."""
        return await self._hub.publish(
            inbox(request.sender), self.sender, body, reply_to=request.id
        )

    async def serve(
        self,
        channel: str,
        handler: Handler,
        *,
        task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Answer each request on `channel` with `handler`'s result, until cancelled.

        Start it in a task group with ``await tg.start(messenger.serve, channel, handler)``:
        that returns once it listens. A handler that raises ends `serve` with its error.
        """
        _check_user_channel(channel)
        async with self._hub.subscribe(channel) as requests:
            task_status.started()
            async for request in requests:
                await self.reply(request, await handler(request))
