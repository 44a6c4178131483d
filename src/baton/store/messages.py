"""Agent messages: a persisted, ordered log per (execution, channel).

Messages of one channel of one execution are numbered 1, 2, 3... without gaps: the SQL key
``(execution_id, channel, seq)`` makes a duplicate number impossible, and a writer that loses
the race for a number retries with the next one. `MessageStore.read` after a sequence number
is how a late subscriber catches up.

The SQL implementation is `baton.store.sql.messages.SqlMessageStore`; both pass the same
conformance suite (``tests/store/test_message_store.py``).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from baton.errors import UsageError
from baton.store.context import Clock, json_text, system_clock

__all__ = [
    "MAX_CHANNEL_LENGTH",
    "MemoryMessageStore",
    "Message",
    "MessageStore",
    "check_body",
    "check_channel",
    "new_message_id",
]

MAX_CHANNEL_LENGTH = 200
"""Longest channel name accepted (the SQL column's width)."""


def new_message_id() -> str:
    """Return a fresh message id such as ``msg_3f2b...``."""
    return "msg_" + uuid.uuid4().hex


@dataclass(frozen=True, slots=True, kw_only=True)
class Message:
    """A message between agents, as stored."""

    id: str
    """Store-assigned id (``msg_...``)."""
    execution_id: str
    """The execution whose agents exchange it."""
    channel: str
    """The channel it was sent on."""
    seq: int
    """1, 2, 3... per (execution, channel), without gaps."""
    sender: str
    """Who sent it (an agent or step name)."""
    body: Any
    """The JSON payload."""
    reply_to: str | None = None
    """The id of the message this answers, for a reply."""
    sent_at: datetime
    """When it was stored (timezone-aware)."""


def check_channel(channel: str) -> None:
    """Refuse an empty or over-long channel name.

    Raises:
        UsageError: the name is empty or longer than `MAX_CHANNEL_LENGTH`.
    """
    if not channel or len(channel) > MAX_CHANNEL_LENGTH:
        raise UsageError(
            f"channel name {channel[:40]!r} must have 1 to {MAX_CHANNEL_LENGTH} characters"
        )


def check_body(body: Any) -> str:
    """Check `body` is JSON-compatible and return its JSON text.

    Raises:
        UsageError: it is not.
    """
    return json_text(body)


class MessageStore(Protocol):
    """Where agent messages are persisted, ordered per channel."""

    async def append(
        self,
        execution_id: str,
        channel: str,
        sender: str,
        body: Any,
        *,
        reply_to: str | None = None,
    ) -> Message:
        """Store a message as the channel's next one and return it with its `seq`.

        Raises:
            UsageError: the body is not JSON, or the channel name is empty or too long.
        """
        ...

    async def read(
        self, execution_id: str, channel: str, after_seq: int = 0, *, limit: int | None = None
    ) -> list[Message]:
        """The channel's messages with ``seq > after_seq``, oldest first (at most `limit`)."""
        ...

    async def get(self, message_id: str) -> Message | None:
        """The message with that id, or None."""
        ...


class MemoryMessageStore:
    """A `MessageStore` in lists: for tests and for running without a database."""

    def __init__(self, *, clock: Clock = system_clock) -> None:
        """Stamp messages with `clock`."""
        self._clock = clock
        self._channels: dict[tuple[str, str], list[Message]] = {}
        self._by_id: dict[str, Message] = {}

    async def append(
        self,
        execution_id: str,
        channel: str,
        sender: str,
        body: Any,
        *,
        reply_to: str | None = None,
    ) -> Message:
        """Store a message as the channel's next one and return it with its `seq`."""
        check_channel(channel)
        text = check_body(body)
        log = self._channels.setdefault((execution_id, channel), [])
        message = Message(
            id=new_message_id(),
            execution_id=execution_id,
            channel=channel,
            seq=len(log) + 1,
            sender=sender,
            body=json.loads(text),  # a copy: the sender may mutate its own object
            reply_to=reply_to,
            sent_at=self._clock(),
        )
        log.append(message)
        self._by_id[message.id] = message
        return message

    async def read(
        self, execution_id: str, channel: str, after_seq: int = 0, *, limit: int | None = None
    ) -> list[Message]:
        """The channel's messages with ``seq > after_seq``, oldest first (at most `limit`)."""
        found = self._channels.get((execution_id, channel), [])[max(after_seq, 0) :]
        return found if limit is None else found[:limit]

    async def get(self, message_id: str) -> Message | None:
        """The message with that id, or None."""
        return self._by_id.get(message_id)
