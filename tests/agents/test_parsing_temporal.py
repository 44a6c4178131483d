"""Temporal parsing: relative dates, times, ranges and durations against a fixed `now`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from baton.agents.parsing.temporal import WhenKind, date_like, parse_duration, parse_when

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
WEDNESDAY = datetime(2026, 3, 4, 11, 20, tzinfo=PARIS)  # Wednesday 4 March 2026, 11:20
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=PARIS)


def paris(month: int, day: int, hour: int = 0, minute: int = 0, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


@pytest.mark.parametrize(
    ("text", "kind", "start", "end"),
    [
        ("next Tuesday at 3pm", WhenKind.INSTANT, paris(3, 10, 15), None),
        ("tomorrow at 10", WhenKind.INSTANT, paris(3, 5, 10), None),
        ("on Friday", WhenKind.DAY, paris(3, 6), paris(3, 7)),
        ("next week", WhenKind.RANGE, paris(3, 9), paris(3, 14)),
        ("this week", WhenKind.RANGE, paris(3, 4), paris(3, 7)),
        ("this afternoon", WhenKind.RANGE, paris(3, 4, 12), paris(3, 4, 17)),
        ("tomorrow morning", WhenKind.RANGE, paris(3, 5, 8), paris(3, 5, 12)),
        ("tonight", WhenKind.RANGE, paris(3, 4, 18), paris(3, 4, 23)),
        ("in 2 days", WhenKind.DAY, paris(3, 6), paris(3, 7)),
        ("in a week", WhenKind.DAY, paris(3, 11), paris(3, 12)),
        ("in 2 hours", WhenKind.INSTANT, paris(3, 4, 13, 20), None),
        ("on 2026-12-03 at 14:30", WhenKind.INSTANT, paris(12, 3, 14, 30), None),
        ("2026-12-03T09:15", WhenKind.INSTANT, paris(12, 3, 9, 15), None),
        ("Dec 3", WhenKind.DAY, paris(12, 3), paris(12, 4)),
        ("the 3rd of December at noon", WhenKind.INSTANT, paris(12, 3, 12), None),
        ("Mar 1", WhenKind.DAY, paris(3, 1, year=2027), paris(3, 2, year=2027)),
        ("Friday next week", WhenKind.DAY, paris(3, 13), paris(3, 14)),
        ("the day after tomorrow at 9:30am", WhenKind.INSTANT, paris(3, 6, 9, 30), None),
        ("at 3pm", WhenKind.INSTANT, paris(3, 4, 15), None),
        ("at 9", WhenKind.INSTANT, paris(3, 5, 9), None),  # 09:00 has passed: tomorrow
        ("at 3", WhenKind.INSTANT, paris(3, 4, 15), None),  # meeting hours: the afternoon
        ("Thursday at 17:45", WhenKind.INSTANT, paris(3, 5, 17, 45), None),
        ("today", WhenKind.DAY, paris(3, 4), paris(3, 5)),
    ],
)
def test_phrases(text: str, kind: WhenKind, start: datetime, end: datetime | None) -> None:
    found = parse_when(text, now=WEDNESDAY, timezone="Europe/Paris")
    assert found is not None
    assert (found.kind, found.start, found.end) == (kind, start, end)
    assert found.start.tzinfo == PARIS
    assert found.text == text  # the whole phrase was consumed


@pytest.mark.parametrize(
    ("text", "day"),
    [
        ("Tuesday", 3),  # the next one: tomorrow
        ("next Tuesday", 10),  # the one in next week, not tomorrow
        ("this Monday", 2),  # today
        ("next Monday", 9),
        ("on Monday", 9),  # a bare weekday is never today
    ],
)
def test_weekdays_said_on_a_monday(text: str, day: int) -> None:
    found = parse_when(text, now=MONDAY, timezone=PARIS)
    assert found is not None
    assert found.start == paris(3, day)


def test_this_week_at_the_weekend_means_the_coming_one() -> None:
    saturday = datetime(2026, 3, 7, 10, tzinfo=PARIS)
    found = parse_when("this week", now=saturday, timezone=PARIS)
    assert found is not None
    assert (found.start, found.end) == (paris(3, 9), paris(3, 14))


def test_spans_locate_the_consumed_text_in_a_sentence() -> None:
    text = "schedule 'Sync' with dana@example.com next Tuesday at 3pm for 45 minutes"
    found = parse_when(text, now=WEDNESDAY, timezone=PARIS)
    assert found is not None
    (span,) = found.spans
    assert text[span.start : span.end] == span.text == "next Tuesday at 3pm"


def test_date_and_time_apart_are_both_consumed() -> None:
    text = "Friday with bob@example.com at 3pm"
    found = parse_when(text, now=WEDNESDAY, timezone=PARIS)
    assert found is not None
    assert found.start == paris(3, 6, 15)
    assert [s.text for s in found.spans] == ["Friday", "at 3pm"]


def test_the_zone_decides_what_today_is() -> None:
    # 02:00 UTC on Thursday is still Wednesday evening in New York.
    now = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)
    found = parse_when("tomorrow at 10am", now=now, timezone="America/New_York")
    assert found is not None
    assert found.start == datetime(2026, 3, 5, 10, tzinfo=NEW_YORK)
    assert found.start.utcoffset() == timedelta(hours=-5)


def test_times_across_a_dst_change_keep_the_wall_clock() -> None:
    saturday = datetime(2026, 3, 28, 10, tzinfo=PARIS)  # Paris springs forward that night
    found = parse_when("tomorrow at 9", now=saturday, timezone=PARIS)
    assert found is not None
    assert (found.start.hour, found.start.utcoffset()) == (9, timedelta(hours=2))
    gap = parse_when("on 2026-03-29 at 02:30", now=saturday, timezone=PARIS)
    assert gap is not None
    assert gap.start.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert (gap.start.hour, gap.start.minute) == (3, 30)  # 02:30 does not exist that night
    late = datetime(2026, 3, 28, 23, 30, tzinfo=PARIS)
    soon = parse_when("in 3 hours", now=late, timezone=PARIS)
    assert soon is not None
    assert soon.start.astimezone(UTC) - late.astimezone(UTC) == timedelta(hours=3)
    assert (soon.start.hour, soon.start.minute) == (3, 30)  # four hours on the wall clock


@pytest.mark.parametrize(
    "text",
    ["import calendar.ics", "export to out/week.ics", "3 decorations", "v2.3pm", "book it", ""],
)
def test_no_time_named(text: str) -> None:
    assert parse_when(text, now=WEDNESDAY, timezone=PARIS) is None


@pytest.mark.parametrize(
    ("text", "minutes", "consumed"),
    [
        ("for 30 minutes", 30, "for 30 minutes"),
        ("an hour", 60, "an hour"),
        ("1.5 hours", 90, "1.5 hours"),
        ("90 min", 90, "90 min"),
        ("half an hour", 30, "half an hour"),
        ("an hour and a half", 90, "an hour and a half"),
        ("find a free hour with dana", 60, "a free hour"),
        ("a 30-minute slot", 30, "30-minute"),
        ("2 hours and 15 minutes", 135, "2 hours and 15 minutes"),
        ("1h30", 90, "1h30"),
        ("two hours", 120, "two hours"),
        ("a quarter of an hour", 15, "a quarter of an hour"),
        ("meet in 30 minutes for 45 minutes", 45, "for 45 minutes"),
    ],
)
def test_durations(text: str, minutes: int, consumed: str) -> None:
    found = parse_duration(text)
    assert found is not None
    assert found.duration == timedelta(minutes=minutes)
    assert found.span.text == consumed == text[found.span.start : found.span.end]


@pytest.mark.parametrize("text", ["in 30 minutes", "at 10am", "next week", "0 minutes"])
def test_no_duration(text: str) -> None:
    assert parse_duration(text) is None


def test_deterministic_given_now() -> None:
    results = {parse_when("next Tuesday at 3pm", now=WEDNESDAY, timezone=PARIS) for _ in range(3)}
    assert len(results) == 1


@pytest.mark.parametrize(("text", "day"), [("last Friday", 27), ("previous Wednesday", 25)])
def test_last_weekday_is_the_latest_before_today(text: str, day: int) -> None:
    found = parse_when(text, now=WEDNESDAY, timezone=PARIS)
    assert found is not None
    assert found.start == paris(2, day)
    assert found.text == text


@pytest.mark.parametrize("text", ["on 2026-13-45", "2026-02-30 at 10:00"])
def test_an_impossible_iso_date_is_not_read(text: str) -> None:
    found = parse_when(text, now=WEDNESDAY, timezone=PARIS)
    assert found is None or "2026" not in found.text


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("find a free hour with dana on blursday", ["on blursday"]),
        ("next blursday at 3pm", ["next blursday"]),
        ("on the 45th", ["on the 45th"]),
        ("on the 45th at 3pm", ["on the 45th"]),
        ("Feb 30 or 31 March", ["Feb 30", "31 March"]),
        ("next month, this weekend, in May", ["next month", "this weekend", "in May"]),
        ("on 12/03 or 12.03.2026", ["on 12/03", "12.03.2026"]),
        ("today or tomorrow on Mondays", ["today", "tomorrow", "on Mondays"]),
        ("2026-13-45", ["2026-13-45"]),
        # Not dates: ordinary words after a preposition, nouns after an ordinal, durations.
        ("on the project", []),
        ("work on it", []),
        ("on holiday, then the birthday party", []),
        ("on the 2nd floor, for the 3rd review", []),
        ("for 1.5 hours, in a week, version 1.2.3, 3 decorations", []),
        ("you may go", []),
    ],
)
def test_date_like(text: str, phrases: list[str]) -> None:
    spans = date_like(text)
    assert [s.text for s in spans] == phrases
    assert all(text[s.start : s.end] == s.text for s in spans)


def test_date_like_finds_what_parse_when_left() -> None:
    text = "find an hour on Friday or on blursday"
    found = parse_when(text, now=WEDNESDAY, timezone=PARIS)
    assert found is not None
    rest = list(text)
    for span in found.spans:
        rest[span.start : span.end] = " " * (span.end - span.start)
    assert [s.text for s in date_like("".join(rest))] == ["on blursday"]


@pytest.mark.parametrize(
    "text",
    [
        "1" + " " * 200_000 + "x",  # spaces after a number that are not a duration
        "for 1" + " " * 200_000 + "x",
        "in 1m " * 30_000 + "for 45 minutes",  # many "in N minutes" before the duration
        "on " + "a" * 200_000,
        "a." * 100_000,
    ],
)
def test_long_inputs_are_read_in_linear_time(text: str) -> None:
    # Only results are asserted: a super-linear pattern would run far past the test timeout.
    expected = 45 if text.endswith("45 minutes") else None
    found = parse_duration(text)
    assert (found.duration / timedelta(minutes=1) if found else None) == expected
    assert parse_when(text, now=WEDNESDAY, timezone=PARIS) is None
    assert date_like(text) == []
