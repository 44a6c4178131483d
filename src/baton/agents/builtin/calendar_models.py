"""Input and output schemas of the calendar agents (the trust boundary, hence pydantic)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from baton.agents.builtin.calendar_slots import WorkingHours
from baton.store.calendar import CalendarEvent

__all__ = [
    "CreateEventInput",
    "CreateEventOutput",
    "EventOut",
    "ExportIcsInput",
    "ExportIcsOutput",
    "FindSlotsInput",
    "FindSlotsOutput",
    "ImportIcsInput",
    "ImportIcsOutput",
    "ListEventsInput",
    "ListEventsOutput",
    "Slot",
]

EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
"""A pragmatic email address: enough to tell an address from a name."""


def _addresses(values: list[str]) -> list[str]:
    seen: set[str] = set()
    kept: list[str] = []
    for value in (v.strip() for v in values):
        if not EMAIL.fullmatch(value):
            raise ValueError(f"{value!r} is not an email address")
        if value.casefold() not in seen:
            seen.add(value.casefold())
            kept.append(value)
    return kept


def _zone_name(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {value!r} (use an IANA name like Europe/Paris)"
        ) from None
    return value


Addresses = Annotated[list[str], AfterValidator(_addresses)]
ZoneName = Annotated[str | None, AfterValidator(_zone_name)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FindSlotsInput(_Input):
    """Inputs of ``calendar.find_slots``."""

    attendees: Addresses = Field(
        default_factory=list[str],
        description="Email addresses whose events must be avoided; empty means every event.",
    )
    duration_minutes: int = Field(60, ge=5, le=24 * 60, description="Length of the meeting.")
    window_start: datetime | None = Field(None, description="Search from (default: now).")
    window_end: datetime | None = Field(None, description="Search until (default: 7 days on).")
    working_hours: str = Field(
        "09:00-17:00", description="Bookable hours on weekdays, HH:MM-HH:MM."
    )
    timezone: ZoneName = Field(None, description="IANA zone of the working hours.")
    buffer_minutes: int = Field(0, ge=0, le=240, description="Gap kept around existing events.")
    limit: int = Field(5, ge=1, le=100, description="Most slots returned.")

    @field_validator("working_hours")
    @classmethod
    def _check_hours(cls, value: str) -> str:
        WorkingHours.parse(value)
        return value


class Slot(BaseModel):
    """A free slot."""

    start: datetime
    end: datetime


class FindSlotsOutput(BaseModel):
    """Output of ``calendar.find_slots``."""

    slots: list[Slot] = Field(description="Free slots, earliest first, none overlapping.")
    best: Slot | None = Field(description="The slot to book (the earliest), if any.")
    count: int = Field(description="Number of slots returned.")
    attendees: list[str] = Field(description="The attendees the slots suit.")
    duration_minutes: int = Field(description="Length of each slot.")


class CreateEventInput(_Input):
    """Inputs of ``calendar.create_event``."""

    title: str = Field(min_length=1, description="Short summary of the event.")
    start: datetime = Field(description="When it starts.")
    end: datetime | None = Field(None, description="When it ends (default: start + duration).")
    duration_minutes: int = Field(60, ge=1, le=14 * 24 * 60, description="Used when no end.")
    attendees: Addresses = Field(default_factory=list[str], description="Email addresses.")
    location: str = ""
    description: str = ""


class CreateEventOutput(BaseModel):
    """Output of ``calendar.create_event``."""

    event_id: str
    title: str
    start: datetime
    end: datetime
    attendees: list[str]
    created: bool = Field(description="False when an earlier attempt already created it.")


class ListEventsInput(_Input):
    """Inputs of ``calendar.list_events``."""

    start: datetime | None = Field(None, description="From (default: now).")
    end: datetime | None = Field(None, description="Until (default: 7 days after start).")
    attendee: str | None = Field(None, description="Only events with this email address.")


class EventOut(BaseModel):
    """An event as agents return it."""

    event_id: str
    title: str
    start: datetime
    end: datetime
    attendees: list[str]
    location: str
    description: str
    uid: str

    @classmethod
    def of(cls, event: CalendarEvent) -> EventOut:
        """Describe a stored event."""
        return cls(
            event_id=event.id,
            title=event.title,
            start=event.start,
            end=event.end,
            attendees=list(event.attendees),
            location=event.location,
            description=event.description,
            uid=event.uid,
        )


class ListEventsOutput(BaseModel):
    """Output of ``calendar.list_events``."""

    events: list[EventOut]
    count: int


class ImportIcsInput(_Input):
    """Inputs of ``calendar.import_ics``."""

    path: str = Field(description="The .ics file, relative to the workspace.")


class ImportIcsOutput(BaseModel):
    """Output of ``calendar.import_ics``."""

    imported: int = Field(description="Events added.")
    skipped: int = Field(description="Events already there (same UID) or unusable.")


class ExportIcsInput(_Input):
    """Inputs of ``calendar.export_ics``."""

    path: str = Field(description="The .ics file to write, relative to the workspace.")
    start: datetime | None = Field(None, description="Only events ending after this.")
    end: datetime | None = Field(None, description="Only events starting before this.")
    attendee: str | None = Field(None, description="Only events with this email address.")


class ExportIcsOutput(BaseModel):
    """Output of ``calendar.export_ics``."""

    path: str = Field(description="The file written, relative to the workspace.")
    count: int = Field(description="Events written.")
