"""The calendar agents run end to end on the in-memory store, with a fixed clock."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import BaseModel, ValidationError

from baton.agents.builtin.calendar import agents
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import Agent, AgentContext, Risk
from baton.errors import AgentInputError
from baton.store.calendar import EventDraft, MemoryCalendarStore

PARIS = ZoneInfo("Europe/Paris")
NOW = datetime(2026, 3, 4, 11, 20, tzinfo=PARIS)  # Wednesday

pytestmark = pytest.mark.anyio


def paris(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=PARIS)


@pytest.fixture
def store() -> MemoryCalendarStore:
    return MemoryCalendarStore()


@pytest.fixture
def calendar(tmp_path: Path, store: MemoryCalendarStore) -> dict[str, Agent]:
    resources = AgentResources(workspace=tmp_path, calendar=store, timezone="Europe/Paris")
    return {a.spec.name: a for a in agents(resources, clock=lambda: NOW)}


async def run(agent: Agent, key: str = "ex1:s1", **inputs: Any) -> Any:
    ctx = AgentContext(execution_id="ex1", step_id="s1", idempotency_key=key)
    result: BaseModel = await agent.run(agent.spec.input_model.model_validate(inputs), ctx)
    return result


async def add(
    store: MemoryCalendarStore, title: str, start: datetime, hours: float, *who: str
) -> None:
    end = start + timedelta(hours=hours)
    await store.add(EventDraft(title=title, start=start, end=end, attendees=who))


def test_specs(calendar: dict[str, Agent]) -> None:
    assert sorted(calendar) == [
        "calendar.create_event",
        "calendar.export_ics",
        "calendar.find_slots",
        "calendar.import_ics",
        "calendar.list_events",
    ]
    risks = {name: a.spec.risk for name, a in calendar.items()}
    assert risks["calendar.find_slots"] is risks["calendar.list_events"] is Risk.READ
    assert risks["calendar.create_event"] is Risk.WRITE
    for a in calendar.values():
        assert a.spec.tags == ("builtin", "calendar")
        assert 3 <= len(a.spec.examples) <= 6
        assert a.spec.idempotent


async def test_find_slots_avoids_attendees_events_only(
    calendar: dict[str, Agent], store: MemoryCalendarStore
) -> None:
    await add(store, "dana busy", paris(4, 11), 3, "dana@example.com")
    await add(store, "eve busy", paris(4, 14), 2, "eve@example.com")
    out = await run(calendar["calendar.find_slots"], attendees=["Dana@Example.com"], limit=3)
    assert [s.start for s in out.slots] == [paris(4, 14), paris(4, 15), paris(4, 16)]
    assert out.best == out.slots[0]
    assert out.count == 3
    assert out.attendees == ["Dana@Example.com"]


async def test_find_slots_default_window_starts_now_and_lasts_a_week(
    calendar: dict[str, Agent],
) -> None:
    out = await run(calendar["calendar.find_slots"], limit=100)
    assert out.slots[0].start == paris(4, 11, 30)  # 11:20 now, next half-hour mark
    assert out.slots[-1].start == paris(11, 10)  # a week on: Wednesday 11:20
    assert {s.start.weekday() for s in out.slots} == {0, 1, 2, 3, 4}


async def test_find_slots_naive_window_is_read_in_the_user_zone(calendar: dict[str, Agent]) -> None:
    out = await run(
        calendar["calendar.find_slots"],
        window_start="2026-03-06T00:00:00",
        window_end="2026-03-07T00:00:00",
        duration_minutes=30,
        buffer_minutes=0,
        working_hours="16:00-17:00",
    )
    assert [s.start for s in out.slots] == [paris(6, 16), paris(6, 16, 30)]


async def test_find_slots_in_another_zone_uses_its_working_hours(
    calendar: dict[str, Agent],
) -> None:
    out = await run(
        calendar["calendar.find_slots"],
        timezone="America/New_York",
        window_start=paris(5, 0),
        window_end=paris(6, 0),
        limit=1,
    )
    assert out.best.start == paris(5, 15)  # 09:00 in New York
    assert out.best.start.tzinfo == ZoneInfo("America/New_York")


async def test_find_slots_rejects_bad_inputs(calendar: dict[str, Agent]) -> None:
    find = calendar["calendar.find_slots"]
    for bad in (
        {"working_hours": "9 to 5"},
        {"timezone": "Mars/Olympus"},
        {"attendees": ["dana"]},
        {"duration_minutes": 0},
    ):
        with pytest.raises(ValidationError):
            find.spec.input_model.model_validate(bad)
    with pytest.raises(AgentInputError):
        await run(find, window_start=paris(6, 0), window_end=paris(5, 0))


async def test_find_slots_window_in_the_past_finds_nothing(calendar: dict[str, Agent]) -> None:
    out = await run(
        calendar["calendar.find_slots"], window_start=paris(2, 0), window_end=paris(3, 0)
    )
    assert (out.slots, out.best, out.count) == ([], None, 0)


async def test_create_event_is_idempotent_by_key(
    calendar: dict[str, Agent], store: MemoryCalendarStore
) -> None:
    create = calendar["calendar.create_event"]
    first = await run(
        create, title="Design review", start="2026-03-10T15:00:00", duration_minutes=45
    )
    assert first.start == paris(10, 15)  # naive start read in Europe/Paris
    assert first.end == paris(10, 15, 45)
    assert first.created
    again = await run(create, title="Design review", start="2026-03-10T15:00:00")
    assert (again.event_id, again.created) == (first.event_id, False)
    other = await run(create, key="ex1:s2", title="Design review", start=paris(10, 15))
    assert other.event_id != first.event_id
    assert len(await store.events()) == 2


async def test_create_event_with_end_and_attendees(
    calendar: dict[str, Agent], store: MemoryCalendarStore
) -> None:
    out = await run(
        calendar["calendar.create_event"],
        title="Sync",
        start=paris(10, 9),
        end=paris(10, 9, 30),
        attendees=["dana@example.com", "DANA@example.com", "bob@example.com"],
        location="Room 4",
    )
    assert out.attendees == ["dana@example.com", "bob@example.com"]
    stored = await store.get(out.event_id)
    assert stored is not None
    assert (stored.location, stored.end) == ("Room 4", paris(10, 9, 30))


async def test_create_event_refuses_end_before_start(calendar: dict[str, Agent]) -> None:
    with pytest.raises(AgentInputError, match="before it starts"):
        await run(
            calendar["calendar.create_event"], title="x", start=paris(10, 9), end=paris(10, 9)
        )


async def test_list_events_range_and_attendee(
    calendar: dict[str, Agent], store: MemoryCalendarStore
) -> None:
    await add(store, "past", paris(3, 9), 1)
    await add(store, "dana", paris(5, 9), 1, "dana@example.com")
    await add(store, "bob", paris(6, 9), 1, "bob@example.com")
    await add(store, "far", paris(20, 9), 1)
    listed = await run(calendar["calendar.list_events"])  # default: the next 7 days
    assert [e.title for e in listed.events] == ["dana", "bob"]
    assert listed.count == 2
    only = await run(
        calendar["calendar.list_events"],
        start=paris(1, 0),
        end=paris(31, 0),
        attendee="DANA@example.com",
    )
    assert [e.title for e in only.events] == ["dana"]
    assert only.events[0].attendees == ["dana@example.com"]


ICS = """BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:review-1@corp
DTSTAMP:20260301T000000Z
DTSTART;TZID=America/New_York:20260310T090000
DURATION:PT45M
SUMMARY:Design review
LOCATION:Room 4
ATTENDEE;CN=Dana:mailto:dana@example.com
ATTENDEE:MAILTO:bob@example.com
END:VEVENT
BEGIN:VEVENT
UID:holiday-1@corp
DTSTART;VALUE=DATE:20260311
SUMMARY:Holiday
END:VEVENT
BEGIN:VEVENT
UID:floating-1@corp
DTSTART:20260312T090000
DTEND:20260312T100000
SUMMARY:Floating
RRULE:FREQ=WEEKLY
END:VEVENT
BEGIN:VEVENT
UID:cancelled-1@corp
DTSTART:20260312T090000Z
DTEND:20260312T100000Z
STATUS:CANCELLED
SUMMARY:Cancelled
END:VEVENT
BEGIN:VEVENT
SUMMARY:No start
END:VEVENT
END:VCALENDAR
"""


async def test_import_ics_maps_events_and_is_idempotent(
    calendar: dict[str, Agent], store: MemoryCalendarStore, tmp_path: Path
) -> None:
    (tmp_path / "calendar.ics").write_text(ICS.replace("\n", "\r\n"))
    out = await run(calendar["calendar.import_ics"], path="calendar.ics")
    assert (out.imported, out.skipped) == (3, 2)  # cancelled and start-less are skipped
    events = {e.uid: e for e in await store.events()}
    review = events["review-1@corp"]
    assert review.start == datetime(2026, 3, 10, 9, tzinfo=ZoneInfo("America/New_York"))
    assert review.end - review.start == timedelta(minutes=45)
    assert review.attendees == ("dana@example.com", "bob@example.com")
    assert review.location == "Room 4"
    holiday = events["holiday-1@corp"]
    assert (holiday.start, holiday.end) == (paris(11, 0), paris(12, 0))
    assert events["floating-1@corp"].start == paris(12, 9)  # no zone: the user's
    again = await run(calendar["calendar.import_ics"], path="calendar.ics")
    assert (again.imported, again.skipped) == (0, 5)
    assert len(await store.events()) == 3


@pytest.mark.parametrize("path", ["../outside.ics", "/etc/passwd", "sub/../../x.ics", ""])
async def test_import_ics_refuses_paths_outside_the_workspace(
    calendar: dict[str, Agent], path: str
) -> None:
    with pytest.raises(AgentInputError):
        await run(calendar["calendar.import_ics"], path=path)


async def test_import_ics_refuses_a_symlink_out(calendar: dict[str, Agent], tmp_path: Path) -> None:
    outside = tmp_path.parent / f"{tmp_path.name}-outside.ics"
    outside.write_text(ICS)
    workspace_link = tmp_path / "link.ics"
    workspace_link.symlink_to(outside)
    try:
        with pytest.raises(AgentInputError, match="outside the workspace"):
            await run(calendar["calendar.import_ics"], path="link.ics")
    finally:
        outside.unlink()


async def test_import_ics_missing_or_invalid_file(
    calendar: dict[str, Agent], tmp_path: Path
) -> None:
    with pytest.raises(AgentInputError, match="no file"):
        await run(calendar["calendar.import_ics"], path="missing.ics")
    (tmp_path / "bad.ics").write_text("this is not a calendar")
    with pytest.raises(AgentInputError, match="iCalendar"):
        await run(calendar["calendar.import_ics"], path="bad.ics")


async def test_export_then_import_round_trips(
    calendar: dict[str, Agent], store: MemoryCalendarStore, tmp_path: Path
) -> None:
    await add(store, "Sync", paris(5, 9), 1, "dana@example.com", "bob@example.com")
    await add(store, "Later", paris(20, 9), 1)
    out = await run(
        calendar["calendar.export_ics"], path="out/week.ics", start=paris(2, 0), end=paris(7, 0)
    )
    assert (out.path, out.count) == ("out/week.ics", 1)
    written = tmp_path / "out" / "week.ics"
    text = written.read_text()
    assert text.startswith("BEGIN:VCALENDAR")
    assert "BEGIN:VTIMEZONE" in text
    assert "TZID:Europe/Paris" in text
    assert os.listdir(tmp_path / "out") == ["week.ics"]  # no temporary file left behind

    fresh = MemoryCalendarStore()
    other = {
        a.spec.name: a
        for a in agents(
            AgentResources(workspace=tmp_path, calendar=fresh, timezone="UTC"), clock=lambda: NOW
        )
    }
    imported = await run(other["calendar.import_ics"], path="out/week.ics")
    assert imported.imported == 1
    [original] = await store.events(end=paris(7, 0))
    [copy] = await fresh.events()
    assert (copy.uid, copy.title, copy.start, copy.end) == (
        original.uid,
        original.title,
        original.start,
        original.end,
    )
    assert copy.attendees == original.attendees
    assert copy.start.utcoffset() == timedelta(hours=1)


async def test_export_overwrites_and_filters_by_attendee(
    calendar: dict[str, Agent], store: MemoryCalendarStore, tmp_path: Path
) -> None:
    await add(store, "Dana", paris(5, 9), 1, "dana@example.com")
    await add(store, "Bob", paris(5, 11), 1, "bob@example.com")
    (tmp_path / "cal.ics").write_text("old content")
    out = await run(calendar["calendar.export_ics"], path="cal.ics", attendee="bob@example.com")
    assert out.count == 1
    text = (tmp_path / "cal.ics").read_text()
    assert "SUMMARY:Bob" in text
    assert "Dana" not in text


async def test_export_refuses_escapes_and_folders(
    calendar: dict[str, Agent], tmp_path: Path
) -> None:
    with pytest.raises(AgentInputError, match="outside the workspace"):
        await run(calendar["calendar.export_ics"], path="../escape.ics")
    (tmp_path / "dir.ics").mkdir()
    with pytest.raises(AgentInputError, match="folder"):
        await run(calendar["calendar.export_ics"], path="dir.ics")
    assert not (tmp_path.parent / "escape.ics").exists()


async def test_import_ics_refuses_oversized_files(
    calendar: dict[str, Agent], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("baton.agents.builtin.calendar._MAX_ICS_BYTES", 100)
    (tmp_path / "big.ics").write_text(ICS)
    with pytest.raises(AgentInputError, match="larger than"):
        await run(calendar["calendar.import_ics"], path="big.ics")
