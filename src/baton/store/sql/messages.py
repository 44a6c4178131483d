"""`MessageStore` on SQLAlchemy, run by a `Database`: SQLite by default, PostgreSQL by URL.

A message takes the channel's next number (``max(seq) + 1``) and is inserted in the same
transaction. The unique key ``(execution_id, channel, seq)`` makes two writers that read the
same maximum collide instead of sharing a number; the loser rolls back and tries again, so
numbers stay 1, 2, 3... without gaps or duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

import anyio
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError
from baton.store.context import Clock, system_clock
from baton.store.messages import Message, check_body, check_channel, new_message_id
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlMessageStore", "agent_messages"]

agent_messages = Table(
    "agent_messages",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("execution_id", String(40), nullable=False),
    Column("channel", String(200), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("sender", String(200), nullable=False),
    # JSON text of the body.
    Column("body", Text, nullable=False),
    Column("reply_to", String(40)),
    Column("sent_at", UtcDateTime, nullable=False),
    # Also the index every read uses (a channel's messages after a number).
    UniqueConstraint("execution_id", "channel", "seq", name="uq_agent_messages_channel_seq"),
)

_m = agent_messages.c

_MAX_ATTEMPTS = 100
"""Appends that lose the race for a number this many times in a row give up."""


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except IntegrityError:
        raise  # a lost race for a number: the caller retries
    except DBAPIError as exc:
        raise StoreError(
            f"the message store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _message(row: Row[Any]) -> Message:
    return Message(
        id=row.id,
        execution_id=row.execution_id,
        channel=row.channel,
        seq=row.seq,
        sender=row.sender,
        body=json.loads(row.body),
        reply_to=row.reply_to,
        sent_at=row.sent_at,
    )


class SqlMessageStore:
    """A `MessageStore` in the ``agent_messages`` table."""

    def __init__(self, db: Database, *, clock: Clock = system_clock) -> None:
        """Use `db`; stamp messages with `clock`."""
        self._db = db
        self._clock = clock

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
        row: dict[str, Any] = {
            "id": new_message_id(),
            "execution_id": execution_id,
            "channel": channel,
            "sender": sender,
            "body": text,
            "reply_to": reply_to,
            "sent_at": self._clock(),
        }

        def work(conn: Connection) -> int:
            last = conn.execute(
                select(func.max(_m.seq)).where(
                    _m.execution_id == execution_id, _m.channel == channel
                )
            ).scalar()
            seq = (last or 0) + 1
            conn.execute(insert(agent_messages).values({**row, "seq": seq}))
            return seq

        for attempt in range(_MAX_ATTEMPTS):
            try:
                with _store_errors("append a message"):
                    seq = await self._db.transaction(work)
                break
            except IntegrityError:
                # Another writer took that number first: read the new maximum and retry.
                await anyio.sleep(0.001 * min(attempt, 10))
        else:
            raise StoreError(
                f"could not number a message on channel {channel!r}: too many concurrent writers",
                retryable=True,
            )
        return Message(
            id=row["id"],
            execution_id=execution_id,
            channel=channel,
            seq=seq,
            sender=sender,
            body=json.loads(text),
            reply_to=reply_to,
            sent_at=row["sent_at"],
        )

    async def read(
        self, execution_id: str, channel: str, after_seq: int = 0, *, limit: int | None = None
    ) -> list[Message]:
        """The channel's messages with ``seq > after_seq``, oldest first (at most `limit`)."""
        query = (
            select(agent_messages)
            .where(_m.execution_id == execution_id, _m.channel == channel, _m.seq > after_seq)
            .order_by(_m.seq)
            .limit(limit)
        )
        with _store_errors("read messages"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_message(r) for r in rows]

    async def get(self, message_id: str) -> Message | None:
        """The message with that id, or None."""
        query = select(agent_messages).where(_m.id == message_id)
        with _store_errors("read a message"):
            row = await self._db.transaction(lambda conn: conn.execute(query).first())
        return None if row is None else _message(row)
