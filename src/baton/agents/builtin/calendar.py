"""The ``calendar`` agents: find free slots, create and list events, import and export .ics.

They work on the embedded `CalendarStore` in `AgentResources`. Datetimes are timezone-aware;
a naive datetime given as input is read in the agent's zone (the input's ``timezone`` when it
has one, otherwise the user's zone from the resources).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import anyio
import anyio.to_thread

from baton.agents.builtin import calendar_extract as extract
from baton.agents.builtin.calendar_ics import events_to_ics, parse_ics
from baton.agents.builtin.calendar_models import (
    CreateEventInput,
    CreateEventOutput,
    EventOut,
    ExportIcsInput,
    ExportIcsOutput,
    FindSlotsInput,
    FindSlotsOutput,
    ImportIcsInput,
    ImportIcsOutput,
    ListEventsInput,
    ListEventsOutput,
    Slot,
)
from baton.agents.builtin.calendar_slots import Interval, WorkingHours, find_free_slots
from baton.agents.builtin.resources import AgentResources
from baton.agents.decorator import FunctionAgent, agent
from baton.agents.protocol import Agent, AgentContext, Risk
from baton.errors import AgentInputError
from baton.store.calendar import CalendarStore, EventDraft

__all__ = ["agents", "confined_path"]

Clock = Callable[[], datetime]
_TAGS = ("builtin", "calendar")
_DEFAULT_WINDOW = timedelta(days=7)
_MAX_ICS_BYTES = 20 * 2**20  # parsing is in memory; years of a busy calendar fit easily


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _aware(value: datetime, zone: ZoneInfo) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


async def confined_path(workspace: Path, raw: str) -> Path:
    """Resolve `raw` inside `workspace`, refusing anything that leads out of it.

    Symlinks are resolved first, so a link pointing outside is refused as well.

    Raises:
        AgentInputError: the path is empty or resolves outside the workspace.
    """
    if not raw.strip():
        raise AgentInputError("the path is empty", hint="name a file inside the workspace")
    root = Path(await anyio.Path(workspace).resolve())
    candidate = Path(raw)
    resolved = Path(await anyio.Path(root / candidate).resolve())  # root / absolute = absolute
    if not resolved.is_relative_to(root):
        raise AgentInputError(
            f"the path {raw!r} is outside the workspace",
            hint=f"use a path inside {root} (relative paths are taken from there)",
        )
    return resolved


def _write_atomically(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename, so readers never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@dataclass(frozen=True, slots=True, kw_only=True)
class _Env:
    """What every calendar agent shares."""

    store: CalendarStore
    """Where events live."""
    zone: ZoneInfo
    """The user's zone: for naive datetimes and working hours."""
    workspace: Path
    """Folder .ics files are read from and written to."""
    clock: Clock
    """Current time (injected so tests are deterministic)."""


def agents(resources: AgentResources, *, clock: Clock = _utc_now) -> list[Agent]:
    """Build the calendar agents on `resources` (`clock` is injectable for tests)."""
    env = _Env(
        store=resources.calendar,
        zone=ZoneInfo(resources.timezone),
        workspace=resources.workspace,
        clock=clock,
    )
    return [
        _find_slots(env),
        _create_event(env),
        _list_events(env),
        _import_ics(env),
        _export_ics(env),
    ]


def _find_slots(env: _Env) -> FunctionAgent:
    @agent(
        "calendar.find_slots",
        description=(
            "Find free time slots for a meeting: working hours on weekdays, clear of every "
            "attendee's events in the calendar (plus an optional buffer). Returns the slots, "
            "earliest first, and the best one."
        ),
        examples=(
            "find a free hour with dana@example.com next week",
            "find a 30 minute slot with alice@example.com and bob@example.com on Friday",
            "when are dana@example.com and lee@example.com both free tomorrow",
            "suggest 3 slots for a 45 minute meeting with sam@example.com this week",
            "find time with the team between 10am and 4pm with a 15 minute buffer",
        ),
        tags=_TAGS,
        extract=extract.find_slots,
    )
    async def find_slots(inputs: FindSlotsInput) -> FindSlotsOutput:
        zone = ZoneInfo(inputs.timezone) if inputs.timezone else env.zone
        now = env.clock()
        start = _aware(inputs.window_start, zone) if inputs.window_start else now
        end = _aware(inputs.window_end, zone) if inputs.window_end else start + _DEFAULT_WINDOW
        if end <= start:
            raise AgentInputError("window_end must be after window_start")
        start = max(start, now)  # a slot in the past cannot be booked
        duration = timedelta(minutes=inputs.duration_minutes)
        busy = await env.store.events(start=start, end=end, attendees=inputs.attendees or None)
        free = find_free_slots(
            busy=[Interval(start=e.start, end=e.end) for e in busy],
            window=Interval(start=start, end=max(start, end)),
            duration=duration,
            zone=zone,
            working_hours=WorkingHours.parse(inputs.working_hours),
            buffer=timedelta(minutes=inputs.buffer_minutes),
            limit=inputs.limit,
        )
        slots = [Slot(start=s.start, end=s.end) for s in free]
        return FindSlotsOutput(
            slots=slots,
            best=slots[0] if slots else None,
            count=len(slots),
            attendees=inputs.attendees,
            duration_minutes=inputs.duration_minutes,
        )

    return find_slots


def _create_event(env: _Env) -> FunctionAgent:
    @agent(
        "calendar.create_event",
        description=(
            "Create an event in the calendar with a title, start, end (or length) and "
            "attendees. Retries of the same step never create a second event."
        ),
        risk=Risk.WRITE,
        examples=(
            "schedule a meeting 'Design review' with dana@example.com next Tuesday at 3pm",
            "book it",
            "schedule it for 45 minutes",
            "add 'Dentist' to my calendar tomorrow at 10",
            "create an event 'Quarterly planning' on 2026-12-03 at 14:30 for 2 hours",
        ),
        tags=_TAGS,
        extract=extract.create_event,
    )
    async def create_event(inputs: CreateEventInput, ctx: AgentContext) -> CreateEventOutput:
        start = _aware(inputs.start, env.zone)
        if inputs.end is not None:
            end = _aware(inputs.end, env.zone)
        else:
            end = start + timedelta(minutes=inputs.duration_minutes)
        if end <= start:
            raise AgentInputError(
                f"the event would end ({end.isoformat()}) before it starts ({start.isoformat()})",
                hint="give an end after the start, or a positive duration_minutes",
            )
        result = await env.store.add(
            EventDraft(
                title=inputs.title,
                start=start,
                end=end,
                attendees=tuple(inputs.attendees),
                location=inputs.location,
                description=inputs.description,
                idempotency_key=ctx.idempotency_key or None,
            )
        )
        event = result.event
        if not result.created:
            ctx.log(f"event {event.id} already created by an earlier attempt; not duplicated")
        return CreateEventOutput(
            event_id=event.id,
            title=event.title,
            start=event.start,
            end=event.end,
            attendees=list(event.attendees),
            created=result.created,
        )

    return create_event


def _list_events(env: _Env) -> FunctionAgent:
    @agent(
        "calendar.list_events",
        description=(
            "List the calendar's events in a time range (the next 7 days by default), "
            "optionally only those with one attendee."
        ),
        examples=(
            "what is on my calendar tomorrow",
            "list my events next week",
            "show meetings with dana@example.com this week",
            "list events on Friday",
        ),
        tags=_TAGS,
        extract=extract.list_events,
    )
    async def list_events(inputs: ListEventsInput) -> ListEventsOutput:
        start = _aware(inputs.start, env.zone) if inputs.start else env.clock()
        end = _aware(inputs.end, env.zone) if inputs.end else start + _DEFAULT_WINDOW
        if end <= start:
            raise AgentInputError("end must be after start")
        attendees = [inputs.attendee] if inputs.attendee else None
        found = await env.store.events(start=start, end=end, attendees=attendees)
        return ListEventsOutput(events=[EventOut.of(e) for e in found], count=len(found))

    return list_events


def _import_ics(env: _Env) -> FunctionAgent:
    @agent(
        "calendar.import_ics",
        description=(
            "Import the events of an iCalendar (.ics) file in the workspace into the "
            "calendar. Events already imported (same UID) are skipped."
        ),
        risk=Risk.WRITE,
        examples=(
            "import calendar.ics",
            "import the events from invites/team.ics",
            "load my calendar from export.ics",
        ),
        tags=_TAGS,
        extract=extract.import_ics,
    )
    async def import_ics(inputs: ImportIcsInput, ctx: AgentContext) -> ImportIcsOutput:
        path = anyio.Path(await confined_path(env.workspace, inputs.path))
        if not await path.is_file():
            raise AgentInputError(f"no file {inputs.path!r} in the workspace")
        if (await path.stat()).st_size > _MAX_ICS_BYTES:
            raise AgentInputError(
                f"{inputs.path!r} is larger than {_MAX_ICS_BYTES // 2**20} MiB",
                hint="split the calendar file, or export a shorter period from its source",
            )
        parsed = await anyio.to_thread.run_sync(parse_ics, await path.read_bytes(), env.zone)
        if parsed.recurring:
            ctx.log(f"{parsed.recurring} recurring event(s): only the first occurrence imported")
        imported = skipped = 0
        for draft in parsed.drafts:
            if (await env.store.add(draft)).created:
                imported += 1
            else:
                skipped += 1
        return ImportIcsOutput(imported=imported, skipped=skipped + parsed.skipped)

    return import_ics


def _export_ics(env: _Env) -> FunctionAgent:
    @agent(
        "calendar.export_ics",
        description=(
            "Export calendar events (optionally a time range, or one attendee's) to an "
            "iCalendar (.ics) file in the workspace."
        ),
        risk=Risk.WRITE,
        examples=(
            "export my calendar to out/week.ics",
            "export next week's events to week.ics",
            "save meetings with dana@example.com to dana.ics",
        ),
        tags=_TAGS,
        extract=extract.export_ics,
    )
    async def export_ics(inputs: ExportIcsInput) -> ExportIcsOutput:
        path = await confined_path(env.workspace, inputs.path)
        if await anyio.Path(path).is_dir():
            raise AgentInputError(f"{inputs.path!r} is a folder", hint="name an .ics file")
        start = _aware(inputs.start, env.zone) if inputs.start else None
        end = _aware(inputs.end, env.zone) if inputs.end else None
        attendees = [inputs.attendee] if inputs.attendee else None
        found = await env.store.events(start=start, end=end, attendees=attendees)
        data = events_to_ics(found, stamp=env.clock())
        await anyio.to_thread.run_sync(_write_atomically, path, data)
        root = await anyio.Path(env.workspace).resolve()
        return ExportIcsOutput(path=path.relative_to(root).as_posix(), count=len(found))

    return export_ics
