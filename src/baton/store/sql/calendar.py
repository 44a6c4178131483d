"""`CalendarStore` on SQLAlchemy, run by a `Database`: SQLite by default, PostgreSQL by URL.

Attendees live in their own table so that "events with dana@example.com" is an indexed
lookup rather than a scan of JSON. Times are stored in UTC; the event's IANA zone is kept
beside them so an event reads back in the zone it was written in.
"""

from __future__ import annotations

from collections.abc import Collection, Generator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import (
    Column,
    Connection,
    ForeignKeyConstraint,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    delete,
    exists,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError
from baton.store.calendar import AddResult, CalendarEvent, EventDraft, new_event_id
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlCalendarStore", "calendar_event_attendees", "calendar_events"]

calendar_events = Table(
    "calendar_events",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(64), nullable=False, default="default"),
    Column("uid", String(255), nullable=False),
    Column("idempotency_key", String(255)),
    Column("title", Text, nullable=False),
    Column("start_at", UtcDateTime, nullable=False),
    Column("end_at", UtcDateTime, nullable=False),
    # IANA zone of the event's own start (None when it was given as a fixed offset).
    Column("tzid", String(64)),
    Column("location", Text, nullable=False, default=""),
    Column("description", Text, nullable=False, default=""),
    UniqueConstraint("workspace_id", "uid", name="uq_calendar_events_workspace_uid"),
    # NULL keys never collide, so events made without a key are not constrained.
    UniqueConstraint("workspace_id", "idempotency_key", name="uq_calendar_events_workspace_key"),
    Index("ix_calendar_events_workspace_start", "workspace_id", "start_at"),
)

calendar_event_attendees = Table(
    "calendar_event_attendees",
    metadata,
    Column("event_id", String(40), primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("address", String(320), nullable=False),
    # Case-folded address: what filters compare, so the index serves them.
    Column("address_key", String(320), nullable=False),
    ForeignKeyConstraint(["event_id"], ["calendar_events.id"], ondelete="CASCADE"),
    Index("ix_calendar_event_attendees_address_key", "address_key"),
)

_ev = calendar_events.c
_at = calendar_event_attendees.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    """Turn driver failures (other than constraint hits, handled by callers) into StoreError."""
    try:
        yield
    except IntegrityError:
        raise
    except DBAPIError as exc:
        raise StoreError(
            f"the calendar store failed to {action}: {exc.orig}",
            # Locks and lost connections (OperationalError) pass; other driver errors do not.
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _zone_key(value: datetime) -> str | None:
    key = getattr(value.tzinfo, "key", None)
    return key if isinstance(key, str) else None


def _in_zone(value: datetime, tzid: str | None) -> datetime:
    if tzid is None:
        return value
    try:
        return value.astimezone(ZoneInfo(tzid))
    except ZoneInfoNotFoundError:  # a zone removed from tzdata since: keep UTC, lose nothing
        return value.astimezone(UTC)


class SqlCalendarStore:
    """A `CalendarStore` in the ``calendar_events`` table, scoped to one workspace."""

    def __init__(self, db: Database, *, workspace_id: str = "default") -> None:
        """Use `db`; every read and write is confined to `workspace_id`."""
        self._db = db
        self._workspace = workspace_id

    async def add(self, draft: EventDraft) -> AddResult:
        """Store `draft` unless its idempotency key or UID is already stored."""
        event = CalendarEvent.from_draft(draft, new_event_id())

        def work(conn: Connection) -> AddResult:
            existing = self._existing(conn, draft)
            if existing is not None:
                return AddResult(event=existing, created=False)
            conn.execute(insert(calendar_events).values(self._row(event)))
            if event.attendees:
                conn.execute(
                    insert(calendar_event_attendees),
                    [
                        {
                            "event_id": event.id,
                            "position": i,
                            "address": a,
                            "address_key": a.casefold(),
                        }
                        for i, a in enumerate(event.attendees)
                    ],
                )
            return AddResult(event=event, created=True)

        try:
            with _store_errors("add an event"):
                return await self._db.transaction(work)
        except IntegrityError:
            # Another writer stored the same key or UID between our lookup and insert.
            with _store_errors("add an event"):
                existing = await self._db.transaction(lambda conn: self._existing(conn, draft))
            if existing is None:
                raise
            return AddResult(event=existing, created=False)

    async def get(self, event_id: str) -> CalendarEvent | None:
        """Return the event with that id, or None."""
        with _store_errors("read an event"):
            found = await self._db.transaction(lambda conn: self._load(conn, _ev.id == event_id))
        return found[0] if found else None

    async def events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        attendees: Collection[str] | None = None,
    ) -> list[CalendarEvent]:
        """Events overlapping ``[start, end)``, sorted by start then id."""
        conditions: list[Any] = []
        if start is not None:
            conditions.append(_ev.end_at > start)
        if end is not None:
            conditions.append(_ev.start_at < end)
        if attendees is not None:
            keys = sorted({a.casefold() for a in attendees})
            conditions.append(
                exists().where(and_(_at.event_id == _ev.id, _at.address_key.in_(keys)))
            )
        with _store_errors("list events"):
            return await self._db.transaction(lambda conn: self._load(conn, *conditions))

    async def delete(self, event_id: str) -> bool:
        """Remove an event; return whether it existed."""

        def work(conn: Connection) -> bool:
            # Explicit, not only ON DELETE CASCADE: SQLite enforces foreign keys only when asked.
            owned = select(_ev.id).where(_ev.id == event_id, _ev.workspace_id == self._workspace)
            conn.execute(delete(calendar_event_attendees).where(_at.event_id.in_(owned)))
            result = conn.execute(
                delete(calendar_events).where(
                    _ev.id == event_id, _ev.workspace_id == self._workspace
                )
            )
            return result.rowcount > 0

        with _store_errors("delete an event"):
            return await self._db.transaction(work)

    def _row(self, event: CalendarEvent) -> dict[str, Any]:
        return {
            "id": event.id,
            "workspace_id": self._workspace,
            "uid": event.uid,
            "idempotency_key": event.idempotency_key,
            "title": event.title,
            "start_at": event.start,
            "end_at": event.end,
            "tzid": _zone_key(event.start),
            "location": event.location,
            "description": event.description,
        }

    def _existing(self, conn: Connection, draft: EventDraft) -> CalendarEvent | None:
        if draft.idempotency_key:
            found = self._load(conn, _ev.idempotency_key == draft.idempotency_key)
            if found:
                return found[0]
        found = self._load(conn, _ev.uid == draft.uid)
        return found[0] if found else None

    def _load(self, conn: Connection, *conditions: Any) -> list[CalendarEvent]:
        rows = conn.execute(
            select(calendar_events)
            .where(_ev.workspace_id == self._workspace, *conditions)
            .order_by(_ev.start_at, _ev.id)
        ).all()
        if not rows:
            return []
        people = self._attendees(conn, [r.id for r in rows])
        return [_event(r, people.get(r.id, ())) for r in rows]

    def _attendees(self, conn: Connection, ids: Sequence[str]) -> dict[str, tuple[str, ...]]:
        found: dict[str, list[str]] = {}
        # Chunked: SQLite caps the number of bound parameters in one statement.
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            rows = conn.execute(
                select(_at.event_id, _at.address)
                .where(_at.event_id.in_(chunk))
                .order_by(_at.event_id, _at.position)
            )
            for event_id, address in rows:
                found.setdefault(event_id, []).append(address)
        return {k: tuple(v) for k, v in found.items()}


def _event(row: Row[Any], attendees: tuple[str, ...]) -> CalendarEvent:
    return CalendarEvent(
        id=row.id,
        title=row.title,
        start=_in_zone(row.start_at, row.tzid),
        end=_in_zone(row.end_at, row.tzid),
        attendees=attendees,
        location=row.location,
        description=row.description,
        uid=row.uid,
        idempotency_key=row.idempotency_key,
    )
