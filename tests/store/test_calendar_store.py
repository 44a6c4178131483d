"""Conformance suite: every CalendarStore implementation must pass all of these."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import anyio
import pytest

from baton.errors import UsageError
from baton.store.calendar import CalendarStore, EventDraft, MemoryCalendarStore
from baton.store.sql.calendar import SqlCalendarStore
from baton.store.sql.database import Database

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
T0 = datetime(2026, 3, 9, 9, 0, tzinfo=PARIS)  # a Monday


def draft(title: str = "Sync", start: datetime = T0, minutes: int = 60, **kw: object) -> EventDraft:
    return EventDraft(title=title, start=start, end=start + timedelta(minutes=minutes), **kw)  # type: ignore[arg-type]


@pytest.fixture
def store(store_database: Database | None) -> CalendarStore:
    # Backends (memory, sqlite, postgres) and their cleanup live in conftest.py.
    if store_database is None:
        return MemoryCalendarStore()
    return SqlCalendarStore(store_database)


pytestmark = pytest.mark.anyio


async def test_add_then_get_round_trips_every_field(store: CalendarStore) -> None:
    added = await store.add(
        draft(
            "Design review",
            attendees=("Dana@Example.com", "bob@example.com"),
            location="Room 4",
            description="Bring the mock-ups",
            uid="abc@example.com",
            idempotency_key="ex1:s1",
        )
    )
    assert added.created
    assert added.event.id.startswith("ev_")
    got = await store.get(added.event.id)
    assert got == added.event
    assert got is not None
    assert got.attendees == ("Dana@Example.com", "bob@example.com")  # order and case kept
    assert (got.title, got.location, got.description) == (
        "Design review",
        "Room 4",
        "Bring the mock-ups",
    )
    assert (got.uid, got.idempotency_key) == ("abc@example.com", "ex1:s1")


async def test_get_unknown_is_none(store: CalendarStore) -> None:
    assert await store.get("ev_missing") is None


async def test_event_reads_back_in_its_own_zone(store: CalendarStore) -> None:
    start = datetime(2026, 7, 1, 15, 30, tzinfo=NEW_YORK)
    added = await store.add(draft(start=start))
    got = await store.get(added.event.id)
    assert got is not None
    assert got.start == start
    assert got.start.utcoffset() == timedelta(hours=-4)
    assert got.start.hour == 15


async def test_same_idempotency_key_returns_the_first_event(store: CalendarStore) -> None:
    first = await store.add(draft("First", idempotency_key="ex1:book"))
    again = await store.add(
        draft("Second", start=T0 + timedelta(days=1), idempotency_key="ex1:book")
    )
    assert not again.created
    assert again.event == first.event
    assert [e.title for e in await store.events()] == ["First"]


async def test_same_uid_is_not_imported_twice(store: CalendarStore) -> None:
    await store.add(draft("From file", uid="meeting-1@corp"))
    again = await store.add(draft("From file, edited", uid="meeting-1@corp"))
    assert not again.created
    assert again.event.title == "From file"
    assert len(await store.events()) == 1


async def test_events_without_keys_are_all_kept(store: CalendarStore) -> None:
    await store.add(draft("A"))
    await store.add(draft("A"))
    assert len(await store.events()) == 2


async def test_window_is_half_open_overlap(store: CalendarStore) -> None:
    await store.add(draft("9-10", start=T0))
    await store.add(draft("10-11", start=T0 + timedelta(hours=1)))
    await store.add(draft("11-12", start=T0 + timedelta(hours=2)))
    window = await store.events(start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=2))
    assert [e.title for e in window] == ["10-11"]  # touching at an edge is not overlapping
    inside = await store.events(start=T0 + timedelta(minutes=90), end=T0 + timedelta(minutes=91))
    assert [e.title for e in inside] == ["10-11"]
    assert [e.title for e in await store.events(end=T0 + timedelta(hours=1))] == ["9-10"]
    assert [e.title for e in await store.events(start=T0 + timedelta(hours=2))] == ["11-12"]


async def test_events_sort_by_instant_across_zones(store: CalendarStore) -> None:
    # 09:00 in New York is 15:00 in Paris: later than 14:00 Paris despite the smaller hour.
    await store.add(draft("ny", start=datetime(2026, 3, 20, 10, 0, tzinfo=NEW_YORK)))
    await store.add(draft("paris", start=datetime(2026, 3, 20, 14, 0, tzinfo=PARIS)))
    await store.add(draft("utc", start=datetime(2026, 3, 20, 12, 0, tzinfo=UTC)))
    assert [e.title for e in await store.events()] == ["utc", "paris", "ny"]


async def test_attendee_filter_is_case_insensitive_and_any_of(store: CalendarStore) -> None:
    await store.add(draft("dana", attendees=("dana@example.com",)))
    await store.add(draft("bob", attendees=("Bob@Example.com", "eve@example.com")))
    await store.add(draft("nobody"))
    assert [e.title for e in await store.events(attendees=["DANA@example.com"])] == ["dana"]
    both = await store.events(attendees=["dana@example.com", "bob@example.com"])
    assert sorted(e.title for e in both) == ["bob", "dana"]
    assert await store.events(attendees=[]) == []
    assert len(await store.events(attendees=None)) == 3


async def test_delete(store: CalendarStore) -> None:
    added = await store.add(draft(attendees=("dana@example.com",)))
    assert await store.delete(added.event.id)
    assert not await store.delete(added.event.id)
    assert await store.get(added.event.id) is None
    assert await store.events(attendees=["dana@example.com"]) == []


async def test_concurrent_adds_with_one_key_create_one_event(store: CalendarStore) -> None:
    results: list[bool] = []

    async def add() -> None:
        results.append((await store.add(draft(idempotency_key="ex9:step"))).created)

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(add)
    assert sorted(results) == [False, False, False, False, True]
    assert len(await store.events()) == 1


async def test_sql_store_is_scoped_to_its_workspace(database: Database) -> None:
    mine = SqlCalendarStore(database, workspace_id="mine")
    theirs = SqlCalendarStore(database, workspace_id="theirs")
    added = await mine.add(draft(uid="shared@corp", attendees=("dana@example.com",)))
    assert await theirs.get(added.event.id) is None
    assert await theirs.events() == []
    assert not await theirs.delete(added.event.id)
    # The same UID may live in both workspaces.
    assert (await theirs.add(draft(uid="shared@corp"))).created
    assert await mine.get(added.event.id) == added.event


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 3, 9, 9), datetime(2026, 3, 9, 10, tzinfo=UTC)),
        (T0, T0),
        (T0, T0 - timedelta(minutes=1)),
    ],
)
def test_draft_rejects_naive_or_backwards_times(start: datetime, end: datetime) -> None:
    with pytest.raises(UsageError):
        EventDraft(title="x", start=start, end=end)
