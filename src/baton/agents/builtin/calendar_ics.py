"""iCalendar (.ics) conversion for the calendar agents: pure functions, no I/O.

Reading keeps each event's UID so a second import of the same file adds nothing; events
without a UID get one derived from their content for the same reason. Recurring events are
imported as their first occurrence (expanding RRULEs is not done yet).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from icalendar import Calendar, Component, Event, vCalAddress

from baton.agents.parsing.temporal import localize
from baton.errors import AgentInputError
from baton.store.calendar import CalendarEvent, EventDraft

__all__ = ["ParsedCalendar", "events_to_ics", "parse_ics"]

PRODID = "-//baton//embedded calendar//EN"


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedCalendar:
    """What an .ics file held."""

    drafts: tuple[EventDraft, ...]
    """Events that can be stored."""
    skipped: int
    """Events left out: cancelled, without a start, or without a length."""
    recurring: int
    """Events with a repeat rule, of which only the first occurrence is in `drafts`."""


def _aware(value: date | datetime, zone: ZoneInfo) -> datetime:
    if isinstance(value, datetime):
        # A "floating" time (no zone) means local time; the user's zone is the best guess.
        return value if value.tzinfo is not None else value.replace(tzinfo=zone)
    return localize(value, time(0), zone)  # an all-day event starts at local midnight


def _text(component: Component, name: str) -> str:
    value = component.get(name)
    return str(value).strip() if value is not None else ""


def _attendees(component: Component) -> tuple[str, ...]:
    raw: Any = component.get("ATTENDEE")
    items: list[Any] = [] if raw is None else raw if isinstance(raw, list) else [raw]
    found: list[str] = []
    for item in items:
        address = str(item).strip()
        if address.lower().startswith("mailto:"):
            address = address[len("mailto:") :]
        if address and address not in found:
            found.append(address)
    return tuple(found)


def _uid(component: Component, start: datetime, end: datetime, title: str) -> str:
    uid = _text(component, "UID")
    if uid:
        return uid
    digest = hashlib.sha256(f"{start.isoformat()}|{end.isoformat()}|{title}".encode()).hexdigest()
    return f"{digest[:32]}@import.baton"


def _draft(component: Event, zone: ZoneInfo) -> EventDraft | None:
    if _text(component, "STATUS").upper() == "CANCELLED":
        return None
    try:
        start = _aware(component.start, zone)
        end = _aware(component.end, zone)
    except ValueError:  # icalendar's IncompleteComponent / InvalidCalendar: no usable start
        return None
    if end <= start:  # a zero-length reminder blocks no time
        return None
    title = _text(component, "SUMMARY") or "(no title)"
    return EventDraft(
        title=title,
        start=start,
        end=end,
        attendees=_attendees(component),
        location=_text(component, "LOCATION"),
        description=_text(component, "DESCRIPTION"),
        uid=_uid(component, start, end, title),
    )


def parse_ics(data: bytes, zone: ZoneInfo) -> ParsedCalendar:
    """Read the events of an iCalendar document.

    Args:
        data: The file's bytes.
        zone: Zone for floating times and all-day events.

    Raises:
        AgentInputError: the bytes are not iCalendar.
    """
    try:
        calendars = Calendar.from_ical(data, multiple=True)
    except ValueError as exc:
        raise AgentInputError(
            f"not a valid iCalendar file: {exc}",
            hint="give a .ics file exported from a calendar application",
        ) from None
    drafts: list[EventDraft] = []
    skipped = recurring = 0
    for calendar in calendars:
        for component in calendar.walk("VEVENT"):
            draft = _draft(component, zone) if isinstance(component, Event) else None
            if draft is None:
                skipped += 1
                continue
            recurring += component.get("RRULE") is not None
            drafts.append(draft)
    return ParsedCalendar(drafts=tuple(drafts), skipped=skipped, recurring=recurring)


def events_to_ics(events: Iterable[CalendarEvent], *, stamp: datetime) -> bytes:
    """Write `events` as an iCalendar document, with the time zones they use.

    Args:
        events: What to export.
        stamp: When the export is made (DTSTAMP of each event).
    """
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    for event in events:
        vevent = Event()
        vevent.add("uid", event.uid)
        vevent.add("dtstamp", stamp.astimezone(UTC))
        vevent.add("dtstart", event.start)
        vevent.add("dtend", event.end)
        vevent.add("summary", event.title)
        if event.location:
            vevent.add("location", event.location)
        if event.description:
            vevent.add("description", event.description)
        for address in event.attendees:
            vevent.add("attendee", vCalAddress(f"mailto:{address}"))
        calendar.add_component(vevent)
    calendar.add_missing_timezones()
    return calendar.to_ical()
