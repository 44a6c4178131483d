"""Embedded calendar storage: the protocol the calendar agents use, and an in-memory store.

The SQL implementation is `baton.store.sql.calendar.SqlCalendarStore`; both pass the same
conformance suite (``tests/store/test_calendar_store.py``).

Adding is idempotent twice over: by the caller's idempotency key (a retried step creates its
event once) and by iCalendar UID (importing the same file twice imports nothing new). Either
match returns the stored event with ``created=False`` instead of a duplicate.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Protocol

from baton.errors import UsageError

__all__ = [
    "AddResult",
    "CalendarEvent",
    "CalendarStore",
    "EventDraft",
    "MemoryCalendarStore",
    "new_event_id",
]


def new_event_id() -> str:
    """Return a fresh event id such as ``ev_3f2b...``."""
    return "ev_" + uuid.uuid4().hex


@dataclass(frozen=True, slots=True, kw_only=True)
class EventDraft:
    """An event to add: everything but the id the store assigns."""

    title: str
    """Short summary shown in a calendar."""
    start: datetime
    """When it begins (timezone-aware)."""
    end: datetime
    """When it ends, exclusive (timezone-aware, after `start`)."""
    attendees: tuple[str, ...] = ()
    """Email addresses of the people invited."""
    location: str = ""
    """Where it happens, free text."""
    description: str = ""
    """Longer notes."""
    uid: str = field(default_factory=lambda: f"{uuid.uuid4()}@baton")
    """iCalendar UID; unique in a store. Imported events keep the UID of their source."""
    idempotency_key: str | None = None
    """Key of the step that created it; a second add with the same key returns this event."""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise UsageError(
                f"event {self.title!r} has a naive start or end",
                hint="give calendar datetimes a time zone",
            )
        if self.end <= self.start:
            raise UsageError(f"event {self.title!r} ends before it starts")


@dataclass(frozen=True, slots=True, kw_only=True)
class CalendarEvent(EventDraft):
    """An event in a store."""

    id: str
    """Store-assigned id (``ev_...``)."""

    @classmethod
    def from_draft(cls, draft: EventDraft, event_id: str) -> CalendarEvent:
        """The event `draft` becomes once stored under `event_id`."""
        return cls(id=event_id, **{f.name: getattr(draft, f.name) for f in fields(EventDraft)})

    def overlaps(self, start: datetime, end: datetime) -> bool:
        """Whether the event shares any time with ``[start, end)``."""
        return self.start < end and self.end > start

    def has_attendee(self, address: str) -> bool:
        """Whether `address` is invited (email addresses compare case-insensitively)."""
        wanted = address.casefold()
        return any(a.casefold() == wanted for a in self.attendees)


@dataclass(frozen=True, slots=True, kw_only=True)
class AddResult:
    """What `CalendarStore.add` did."""

    event: CalendarEvent
    """The stored event: the new one, or the one already there."""
    created: bool
    """False when an event with the same idempotency key or UID existed."""


class CalendarStore(Protocol):
    """Where the embedded calendar keeps its events."""

    async def add(self, draft: EventDraft) -> AddResult:
        """Store `draft` unless its idempotency key or UID is already stored."""
        ...

    async def get(self, event_id: str) -> CalendarEvent | None:
        """Return the event with that id, or None."""
        ...

    async def events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        attendees: Collection[str] | None = None,
    ) -> list[CalendarEvent]:
        """Events overlapping ``[start, end)``, sorted by start then id.

        Args:
            start: Only events ending after this; None means no lower bound.
            end: Only events starting before this; None means no upper bound.
            attendees: Only events inviting at least one of these addresses; None means all.
        """
        ...

    async def delete(self, event_id: str) -> bool:
        """Remove an event; return whether it existed."""
        ...


class MemoryCalendarStore:
    """A `CalendarStore` in a dict: for tests and for running without a database."""

    def __init__(self) -> None:
        self._events: dict[str, CalendarEvent] = {}

    async def add(self, draft: EventDraft) -> AddResult:
        """Store `draft` unless its idempotency key or UID is already stored."""
        # No await between the lookup and the insert, so no other task can slip in between.
        for event in self._events.values():
            same_key = draft.idempotency_key and event.idempotency_key == draft.idempotency_key
            if same_key or event.uid == draft.uid:
                return AddResult(event=event, created=False)
        event = CalendarEvent.from_draft(draft, new_event_id())
        self._events[event.id] = event
        return AddResult(event=event, created=True)

    async def get(self, event_id: str) -> CalendarEvent | None:
        """Return the event with that id, or None."""
        return self._events.get(event_id)

    async def events(
        self,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
        attendees: Collection[str] | None = None,
    ) -> list[CalendarEvent]:
        """Events overlapping ``[start, end)``, sorted by start then id."""
        found = [
            e
            for e in self._events.values()
            if (start is None or e.end > start)
            and (end is None or e.start < end)
            and (attendees is None or any(e.has_attendee(a) for a in attendees))
        ]
        return sorted(found, key=lambda e: (e.start, e.id))

    async def delete(self, event_id: str) -> bool:
        """Remove an event; return whether it existed."""
        return self._events.pop(event_id, None) is not None
