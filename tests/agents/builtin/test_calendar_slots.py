"""The free-slot algorithm, tested as a pure function (no event loop)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest

from baton.agents.builtin.calendar_slots import (
    Interval,
    WorkingHours,
    default_alignment,
    find_free_slots,
)

PARIS = ZoneInfo("Europe/Paris")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
NINE_TO_FIVE = WorkingHours.parse("09:00-17:00")
HOUR = timedelta(hours=1)


def at(day: int, hour: int, minute: int = 0, *, zone: tzinfo = PARIS, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def busy(start: datetime, end: datetime) -> Interval:
    return Interval(start=start, end=end)


def starts(slots: list[Interval], zone: ZoneInfo = PARIS) -> list[str]:
    return [s.start.astimezone(zone).strftime("%a %H:%M") for s in slots]


def slots(
    *busy_times: Interval,
    window: tuple[datetime, datetime] = (at(9, 0), at(10, 0)),  # Monday 9 March 2026
    duration: timedelta = HOUR,
    zone: ZoneInfo = PARIS,
    hours: WorkingHours = NINE_TO_FIVE,
    **kw: object,
) -> list[Interval]:
    return find_free_slots(
        busy=busy_times,
        window=Interval(start=window[0], end=window[1]),
        duration=duration,
        zone=zone,
        working_hours=hours,
        **kw,  # type: ignore[arg-type]
    )


def test_empty_day_is_split_into_back_to_back_slots() -> None:
    found = slots()
    assert starts(found) == [f"Mon {h:02}:00" for h in range(9, 17)]
    assert all(s.end - s.start == HOUR for s in found)
    assert all(s.start.tzinfo == PARIS for s in found)


def test_busy_time_is_avoided_and_next_slot_is_aligned() -> None:
    found = slots(busy(at(9, 9), at(9, 9, 45)))
    assert starts(found)[:2] == ["Mon 10:00", "Mon 11:00"]  # 9:45 is off the half-hour grid


def test_quarter_hour_grid_for_lengths_that_need_it() -> None:
    found = slots(busy(at(9, 9), at(9, 9, 45)), duration=timedelta(minutes=45))
    assert starts(found)[:3] == ["Mon 09:45", "Mon 10:30", "Mon 11:15"]
    assert default_alignment(timedelta(minutes=45)) == timedelta(minutes=15)
    assert default_alignment(timedelta(minutes=90)) == timedelta(minutes=30)


def test_buffer_keeps_a_gap_on_both_sides() -> None:
    meeting = busy(at(9, 10), at(9, 11))
    assert starts(slots(meeting))[:3] == ["Mon 09:00", "Mon 11:00", "Mon 12:00"]
    buffered = slots(meeting, buffer=timedelta(minutes=15))
    # 9:00-10:00 would end inside the buffer; after 11:15 the grid's next mark is 11:30.
    assert starts(buffered)[:2] == ["Mon 11:30", "Mon 12:30"]


def test_overlapping_busy_times_of_several_people_are_merged() -> None:
    found = slots(
        busy(at(9, 9), at(9, 12)),
        busy(at(9, 11), at(9, 14)),
        busy(at(9, 13, 30), at(9, 15)),
    )
    assert starts(found) == ["Mon 15:00", "Mon 16:00"]


def test_weekends_are_skipped_and_the_window_clips() -> None:
    found = slots(window=(at(6, 15, 10), at(9, 10, 0)))  # Friday 15:10 -> Monday 10:00
    assert starts(found) == ["Fri 15:30", "Mon 09:00"]


def test_limit_stops_early() -> None:
    assert starts(slots(limit=2)) == ["Mon 09:00", "Mon 10:00"]


def test_multi_day_busy_blocks_whole_days() -> None:
    away = busy(at(9, 0), at(11, 12))  # Monday 00:00 to Wednesday noon
    found = slots(away, window=(at(9, 0), at(12, 0)), limit=1)
    assert starts(found) == ["Wed 12:00"]


def test_working_hours_follow_the_wall_clock_across_dst() -> None:
    # New York springs forward on Sunday 8 March 2026: 09:00 is 14:00 UTC on Friday and
    # 13:00 UTC on Monday.
    found = slots(
        window=(at(6, 0, zone=NEW_YORK), at(10, 0, zone=NEW_YORK)),
        zone=NEW_YORK,
        hours=WorkingHours.parse("09:00-10:00"),
    )
    assert [s.start.astimezone(UTC).strftime("%a %H:%M") for s in found] == [
        "Fri 14:00",
        "Mon 13:00",
    ]
    assert starts(found, NEW_YORK) == ["Fri 09:00", "Mon 09:00"]


def test_spring_forward_night_has_one_hour_less() -> None:
    every_day = WorkingHours(start_minute=60, end_minute=5 * 60, weekdays=frozenset(range(7)))
    # Paris skips 02:00-03:00 on Sunday 29 March 2026: 01:00-05:00 is three real hours.
    found = slots(window=(at(29, 0), at(30, 0)), hours=every_day)
    assert starts(found) == ["Sun 01:00", "Sun 03:00", "Sun 04:00"]
    assert all(s.end.astimezone(UTC) - s.start.astimezone(UTC) == HOUR for s in found)


def test_fall_back_night_has_one_hour_more() -> None:
    every_day = WorkingHours(start_minute=0, end_minute=4 * 60, weekdays=frozenset(range(7)))
    day = datetime(2026, 10, 25, tzinfo=PARIS)  # 02:00-03:00 happens twice
    found = slots(window=(day, day + timedelta(days=1)), hours=every_day)
    utc = [s.start.astimezone(UTC) for s in found]
    assert len(found) == 5
    assert all(b - a == HOUR for a, b in itertools.pairwise(utc))
    assert [s.start.astimezone(PARIS).fold for s in found].count(1) == 1


def test_busy_times_in_another_zone_are_compared_as_instants() -> None:
    # 05:00 in New York is 10:00 in London (both on winter time in February).
    early_call = busy(at(9, 5, zone=NEW_YORK, month=2), at(9, 6, zone=NEW_YORK, month=2))
    found = slots(
        early_call,
        window=(at(9, 0, zone=LONDON, month=2), at(10, 0, zone=LONDON, month=2)),
        zone=LONDON,
        limit=2,
    )
    assert starts(found, LONDON) == ["Mon 09:00", "Mon 11:00"]
    assert all(s.start.tzinfo == LONDON for s in found)


def test_working_hours_in_the_target_zone_not_the_busy_zone() -> None:
    # Searching in New York: 9-5 there is 14:00-22:00 UTC.
    found = slots(window=(at(9, 0, zone=UTC), at(10, 0, zone=UTC)), zone=NEW_YORK, limit=1)
    assert found[0].start.astimezone(UTC).hour == 13  # 09:00 EDT (DST began 8 March)


def test_slot_longer_than_any_gap_finds_nothing() -> None:
    assert slots(duration=timedelta(hours=9)) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("09:00-17:00", (540, 1020)), ("8:30 - 12:00", (510, 720)), ("00:00-24:00", (0, 1440))],
)
def test_working_hours_parse(text: str, expected: tuple[int, int]) -> None:
    hours = WorkingHours.parse(text)
    assert (hours.start_minute, hours.end_minute) == expected
    assert hours.weekdays == frozenset(range(5))


@pytest.mark.parametrize(
    "text", ["9-5", "17:00-09:00", "09:00-09:00", "25:00-26:00", "09:60-10:00"]
)
def test_working_hours_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="working hours"):
        WorkingHours.parse(text)


def test_non_positive_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        slots(duration=timedelta(0))
