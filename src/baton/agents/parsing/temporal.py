"""Dates, times, ranges and durations in English requests, resolved against an injected `now`.

Relative phrases ("next Tuesday", "tomorrow at 10", "next week", "this afternoon") go through a
small deterministic grammar here, because the libraries tried get them wrong: dateparser drops
the hour of "tomorrow at 10", reads "next week" as one day and has no durations; parsedatetime
resolves "this afternoon" against the wall clock instead of the given base. Calendar dates
written with a month name ("Dec 3", "3rd of December 2027") are handed to dateparser, which
reads their many spellings well and picks the next future year when none is written.

Conventions (documented because English is ambiguous):

* A bare weekday ("Friday", "on Friday") is the next such day after today; "this Friday" is the
  one in the current Monday-Sunday week when not yet past; "next Friday" is the one in the
  following week; "last Friday" is the latest one before today.
* "next week" is Monday 00:00 to Saturday 00:00 of the following week (the working week).
* "at 3" without am/pm means 15:00 for hours 1-6 and the morning for 7-11 (meeting hours).
* A time with no date is today when still ahead of `now`, otherwise tomorrow.

Every result carries the spans of text it consumed, so a caller can tell what is left.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import dateparser

__all__ = [
    "DurationMatch",
    "Span",
    "When",
    "WhenKind",
    "date_like",
    "localize",
    "parse_duration",
    "parse_when",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class Span:
    """A piece of the input text, by character offsets."""

    start: int
    """Offset of the first character."""
    end: int
    """Offset just past the last character."""
    text: str
    """The text itself (``source[start:end]``)."""


class WhenKind(StrEnum):
    """What sort of time a phrase names."""

    INSTANT = "instant"
    """A point in time ("next Tuesday at 3pm")."""
    DAY = "day"
    """A whole calendar day ("on Friday", "Dec 3")."""
    RANGE = "range"
    """A stretch of time other than one day ("next week", "this afternoon")."""


@dataclass(frozen=True, slots=True, kw_only=True)
class When:
    """A resolved date, time or range, with the text it came from."""

    kind: WhenKind
    """Instant, day or range."""
    start: datetime
    """Start (timezone-aware, in the zone asked for)."""
    end: datetime | None
    """Exclusive end for days and ranges; None for an instant."""
    spans: tuple[Span, ...]
    """The pieces of text consumed, in order (a date and a time may be apart)."""

    @property
    def text(self) -> str:
        """The consumed pieces joined by spaces, for messages."""
        return " ".join(s.text for s in self.spans)


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationMatch:
    """A length of time found in text ("for 45 minutes")."""

    duration: timedelta
    """How long."""
    span: Span
    """The text consumed, including a leading "for"."""


def localize(day: date, clock: time, zone: ZoneInfo) -> datetime:
    """Return wall-clock `clock` on `day` in `zone`, moving times in a DST gap forward.

    A wall time that does not exist (02:30 on a spring-forward night) is shifted by the gap,
    as a clock on the wall would show it, instead of yielding an impossible datetime.
    """
    naive = datetime.combine(day, clock, tzinfo=zone)
    return naive.astimezone(UTC).astimezone(zone)


_WORD_NUMBERS = {"a": 1, "an": 1} | {
    word: n
    for n, word in enumerate(
        ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"),
        start=1,
    )
}
_NUM = r"\d+(?:\.\d+)?|" + "|".join(sorted(_WORD_NUMBERS, key=len, reverse=True))
# "sat" and "sun" are left out: as words they are far likelier than as day names.
_WEEKDAYS = {
    name: day
    for day, names in enumerate(
        (
            "monday mon",
            "tuesday tues tue",
            "wednesday wed",
            "thursday thurs thur thu",
            "friday fri",
            "saturday",
            "sunday",
        )
    )
    for name in names.split()
}
_WEEKDAY = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_PARTS_OF_DAY = {
    "morning": (time(8), time(12)),
    "afternoon": (time(12), time(17)),
    "evening": (time(17), time(21)),
    "tonight": (time(18), time(23)),
}
# Text that ends a word in a path, address or number must not start a match ("v2.3pm").
_B = r"(?<![\w@/.:-])"
_F = re.IGNORECASE | re.VERBOSE

_REL_INSTANT = re.compile(rf"{_B}in\s+(?P<n>{_NUM})\s*(?P<unit>minutes?|mins?|hours?|hrs?)\b", _F)
_ISO = re.compile(
    rf"{_B}(?:on\s+)?(?P<y>\d{{4}})-(?P<mo>\d{{2}})-(?P<d>\d{{2}})"
    r"(?:[T\s](?P<h>[01]\d|2[0-3]):(?P<mi>[0-5]\d)(?::[0-5]\d)?)?\b",
    _F,
)
_MONTH_DATE = re.compile(
    rf"""{_B}(?:on\s+)?(?P<body>
        (?:the\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b\.?
      | (?:{_MONTH})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b
    )(?:,?\s+(?P<year>\d{{4}}))?\b""",
    _F,
)
_WEEK = re.compile(r"\b(?P<which>this|next)\s+week\b", _F)
_REL_DAY = re.compile(
    rf"\b(?P<word>(?:the\s+)?day\s+after\s+tomorrow|today|tomorrow|tonight)\b"
    rf"|{_B}in\s+(?P<n>{_NUM})\s+(?P<unit>days?|weeks?)\b",
    _F,
)
_WEEKDAY_RE = re.compile(
    rf"\b(?:(?P<which>on|this|next|coming|this\s+coming|last|previous)\s+)?(?P<day>{_WEEKDAY})\b",
    _F,
)
_PART = re.compile(r"\b(?:this\s+)?(?P<part>morning|afternoon|evening)\b", _F)
_CLOCK = re.compile(
    rf"""{_B}(?:(?:at|@)\s+)?(?:
        (?P<named>noon|midday|midnight)
      | (?P<h12>1[0-2]|0?[1-9])(?::(?P<m12>[0-5]\d))?\s*(?P<ampm>[ap])(?:m\b|\.m\.)
      | (?P<h24>[01]?\d|2[0-3]):(?P<m24>[0-5]\d)\b
      | (?<=at\s)(?P<bare>[01]?\d|2[0-3])(?:\s*o'?clock)?\b(?![.:]\d|\s*(?:%|min|hour|day|week))
    )""",
    _F,
)
# "\s*+(?:-\s*+)?", not "\s*-?\s*": the latter can split a run of spaces every possible way,
# which is quadratic on a long one.
_DURATION = re.compile(
    rf"""{_B}(?P<for>for\s+(?:about\s+)?)?(?:
        (?P<half>half\s+an?\s+hour|half[\s-]hour)
      | (?P<hhalf>(?:an?|one)\s+hour\s+and\s+a\s+half|one\s+and\s+a\s+half\s+hours?)
      | (?P<quarter>(?:a\s+)?quarter\s+(?:of\s+an\s+)?hour)
      | (?P<h>{_NUM})\s*+(?:-\s*+)?(?:free\s+|full\s+)?(?:hours?|hrs?|h)(?![a-z])
        (?:\s*(?:and\s+)?(?P<hm>\d+)\s*(?:minutes?|mins?|m)\b|(?<=h)(?P<hm2>\d{{2}})\b)?
      | (?P<m>{_NUM})\s*+(?:-\s*+)?(?:minutes?|mins?|m)\b
    )""",
    _F,
)


# Phrases that look like a day, date or period, whether or not `parse_when` can read them; see
# `date_like`. An unknown word ending in "day" counts only after a word that introduces a date
# ("on blursday", "next funday"), so "holiday" or "birthday party" in a title is left alone;
# the days `parse_when` knows ("Friday", "tomorrow") count anywhere.
_DATE_LEAD = (
    r"(?:on|next|this|coming|last|previous|past|by|until|till|before|after|from|since|every)"
)
_FULL_MONTH = (
    r"january|february|march|april|may|june|july|august|september|october|november|december"
)
# An ordinal is a day unless a noun follows it ("on the 2nd floor"); these words may follow a day.
_JOINING = r"(?:of|at|in|on|and|or|to|from|until|till|by|with|for|between|before|after)"
_DAY_NAMES = "|".join(name for name in _WEEKDAYS if name.endswith("day"))
_PERIOD = rf"weekend|week|month|year|quarter|{_FULL_MONTH}"
_NOT_DAYS = frozenset({"holiday", "heyday", "everyday", "midday", "weekday", "workday"})
_DATE_LIKE = re.compile(
    rf"""
      \b{_DATE_LEAD}\s+(?:the\s+)?(?P<dayword>[a-z]+day)s?\b
    | \b(?:today|tonight|tomorrow|yesterday|{_DAY_NAMES})s?\b
    | \b{_DATE_LEAD}\s+(?:the\s+)?\d{{1,3}}(?:st|nd|rd|th)\b(?!\s+(?!{_JOINING}\b)[a-z])
    | {_B}\d+(?:st|nd|rd|th)?\s+(?:of\s+)?(?:{_MONTH})\b\.?
    | \b(?:{_MONTH})\.?\s+\d+(?:st|nd|rd|th)?\b
    | \b(?:{_DATE_LEAD}|in|during)\s+(?:the\s+)?(?P<period>{_PERIOD})\b
    | {_B}\d{{4}}-\d{{1,2}}-\d{{1,2}}\b
    | {_B}\d{{1,2}}[/.]\d{{1,2}}[/.]\d{{2,4}}\b
    | \b{_DATE_LEAD}\s+\d{{1,2}}/\d{{1,2}}\b
    """,
    _F,
)


def date_like(text: str) -> list[Span]:
    """Phrases of `text` that look like a day, a date or a period, in order.

    Run on a clause with the spans `parse_when` consumed blanked out, it finds what the clause
    says about time that was not read: an unknown day ("on blursday"), an impossible date ("on the
    45th", "Feb 30", "2026-13-45"), a period `parse_when` does not know ("next month"), or a second
    date it left ("today or tomorrow"). It does not read them; an extractor reports them as
    unparsed so that no plan is made on a guess. Words that merely sit after a preposition ("on
    the project", "on it") do not look like dates.
    """
    spans: list[Span] = []
    for found in _DATE_LIKE.finditer(text):
        word = (found["dayword"] or "").lower()
        if word in _NOT_DAYS or found["period"] == "may":  # "in may", not "in May"
            continue
        start, end = found.span()
        spans.append(Span(start=start, end=end, text=text[start:end]))
    return spans


class _Scanner:
    """Finds components one by one, blanking each match so no text is used twice."""

    def __init__(self, text: str) -> None:
        self.original = text
        self.masked = text

    def take(self, pattern: re.Pattern[str]) -> tuple[re.Match[str], Span] | None:
        found = pattern.search(self.masked)
        if found is None:
            return None
        start, end = found.span()
        while end > start and self.masked[end - 1].isspace():
            end -= 1
        self.masked = self.masked[:start] + " " * (end - start) + self.masked[end:]
        return found, Span(start=start, end=end, text=self.original[start:end])


def _number(word: str) -> float:
    return _WORD_NUMBERS.get(word.lower()) or float(word)


def _zone(timezone: str | ZoneInfo) -> ZoneInfo:
    return timezone if isinstance(timezone, ZoneInfo) else ZoneInfo(timezone)


def _week_monday(day: date, weeks_ahead: int) -> date:
    return day - timedelta(days=day.weekday()) + timedelta(weeks=weeks_ahead)


def _resolve_weekday(which: str, weekday: int, today: date) -> date:
    which = " ".join(which.lower().split())
    if which == "next":
        return _week_monday(today, 1) + timedelta(days=weekday)
    if which in ("last", "previous"):
        return today - timedelta(days=(today.weekday() - weekday) % 7 or 7)
    ahead = (weekday - today.weekday()) % 7
    if which == "this" and ahead == 0:
        return today
    return today + timedelta(days=ahead or 7)


def _clock(found: re.Match[str]) -> time:
    named = (found["named"] or "").lower()
    if named:
        return time(0) if named == "midnight" else time(12)
    if found["h12"]:
        hour = int(found["h12"]) % 12 + (12 if found["ampm"].lower() == "p" else 0)
        return time(hour, int(found["m12"] or 0))
    if found["h24"]:
        return time(int(found["h24"]), int(found["m24"]))
    hour = int(found["bare"])
    # "at 3" in a request about meetings means the afternoon, not 3 in the morning.
    return time(hour + 12 if 1 <= hour <= 6 else hour)


def _month_date(found: re.Match[str], today: date) -> date | None:
    base = datetime.combine(today, time(0))
    text = found["body"] + (f" {found['year']}" if found["year"] else "")
    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "RELATIVE_BASE": base,
            "PREFER_DATES_FROM": "future",
            "REQUIRE_PARTS": ["day", "month"],
        },
    )
    return parsed.date() if parsed is not None else None


def _iso_day(found: re.Match[str]) -> date | None:
    """The day of a ``YYYY-MM-DD`` match; None when there is no such day ("2026-13-45")."""
    try:
        return date(int(found["y"]), int(found["mo"]), int(found["d"]))
    except ValueError:
        return None


def _relative_day(found: re.Match[str], today: date) -> date:
    word = " ".join((found["word"] or "").lower().split())
    if word in ("today", "tonight"):
        return today
    if word == "tomorrow":
        return today + timedelta(days=1)
    if word:
        return today + timedelta(days=2)
    count = int(_number(found["n"]))
    unit_days = 7 if found["unit"].lower().startswith("week") else 1
    return today + timedelta(days=count * unit_days)


@dataclass(slots=True)
class _Found:
    day: date | None = None
    weekday: tuple[str, int] | None = None
    week: int | None = None
    part: tuple[time, time] | None = None
    clock: time | None = None


def _scan_days(scan: _Scanner, today: date, found: _Found, spans: list[Span]) -> None:
    """Fill the date-level components: an explicit date, a week, a weekday, a relative day."""
    if (hit := scan.take(_ISO)) and (iso := _iso_day(hit[0])):
        m, span = hit
        found.day = iso
        if m["h"]:
            found.clock = time(int(m["h"]), int(m["mi"]))
        spans.append(span)
    elif (hit := scan.take(_MONTH_DATE)) and (day := _month_date(hit[0], today)):
        found.day = day
        spans.append(hit[1])
    if hit := scan.take(_WEEK):
        found.week = 1 if hit[0]["which"].lower() == "next" else 0
        spans.append(hit[1])
    if found.day is None and (hit := scan.take(_REL_DAY)):
        found.day = _relative_day(hit[0], today)
        if (hit[0]["word"] or "").lower() == "tonight":
            found.part = _PARTS_OF_DAY["tonight"]
        spans.append(hit[1])
    if found.day is None and (hit := scan.take(_WEEKDAY_RE)):
        found.weekday = (hit[0]["which"] or "", _WEEKDAYS[hit[0]["day"].lower()])
        spans.append(hit[1])


def parse_when(text: str, *, now: datetime, timezone: str | ZoneInfo) -> When | None:
    """Find the date, time or range that `text` names, resolved against `now` in `timezone`.

    Args:
        text: Free text, e.g. ``"book a room next Tuesday at 3pm for an hour"``.
        now: The current time (timezone-aware); every relative phrase is resolved from it.
        timezone: IANA zone the words are meant in (``"Europe/Paris"``).

    Returns:
        The resolved time with the spans it consumed, or None when the text names no time.
    """
    zone = _zone(timezone)
    local_now = now.astimezone(zone)
    today = local_now.date()
    scan = _Scanner(text)
    if hit := scan.take(_REL_INSTANT):
        amount = _number(hit[0]["n"])
        unit = (
            timedelta(hours=1) if hit[0]["unit"].lower().startswith("h") else timedelta(minutes=1)
        )
        # In UTC: "in 3 hours" across a DST change is three real hours, not wall-clock ones.
        moment = (now.astimezone(UTC) + amount * unit).astimezone(zone)
        return When(kind=WhenKind.INSTANT, start=moment, end=None, spans=(hit[1],))

    found = _Found()
    spans: list[Span] = []
    _scan_days(scan, today, found, spans)
    if found.weekday is not None:
        which, weekday = found.weekday
        if found.week is not None:  # "Friday next week"
            found.day = _week_monday(today, found.week) + timedelta(days=weekday)
            found.week = None
        else:
            found.day = _resolve_weekday(which, weekday, today)
    if found.week is not None:
        monday = _week_monday(today, found.week)
        start = max(monday, today) if found.week == 0 else monday
        if start.weekday() >= 5:  # "this week" said at the weekend: the coming working week
            monday = start = _week_monday(today, 1)
        return When(
            kind=WhenKind.RANGE,
            start=localize(start, time(0), zone),
            end=localize(monday + timedelta(days=5), time(0), zone),
            spans=_joined(spans, text),
        )
    if found.clock is None and (hit := scan.take(_CLOCK)):
        found.clock = _clock(hit[0])
        spans.append(hit[1])
    if found.part is None and (hit := scan.take(_PART)):
        found.part = _PARTS_OF_DAY[hit[0]["part"].lower()]
        spans.append(hit[1])
    return _combine(found, local_now, zone, _joined(spans, text))


def _joined(spans: list[Span], text: str) -> tuple[Span, ...]:
    """Sort the pieces and merge those only whitespace apart ("next Tuesday" + "at 3pm")."""
    merged: list[Span] = []
    for span in sorted(spans, key=lambda s: s.start):
        if merged and not text[merged[-1].end : span.start].strip():
            start = merged[-1].start
            merged[-1] = Span(start=start, end=span.end, text=text[start : span.end])
        else:
            merged.append(span)
    return tuple(merged)


def _combine(
    found: _Found, local_now: datetime, zone: ZoneInfo, spans: tuple[Span, ...]
) -> When | None:
    today = local_now.date()
    if found.clock is not None:
        day = found.day
        if day is None:
            day = today if localize(today, found.clock, zone) > local_now else today + timedelta(1)
        return When(
            kind=WhenKind.INSTANT, start=localize(day, found.clock, zone), end=None, spans=spans
        )
    if found.part is not None:
        day = found.day or today
        return When(
            kind=WhenKind.RANGE,
            start=localize(day, found.part[0], zone),
            end=localize(day, found.part[1], zone),
            spans=spans,
        )
    if found.day is not None:
        return When(
            kind=WhenKind.DAY,
            start=localize(found.day, time(0), zone),
            end=localize(found.day + timedelta(days=1), time(0), zone),
            spans=spans,
        )
    return None


def parse_duration(text: str) -> DurationMatch | None:
    """Find the first length of time in `text` ("for 30 minutes", "an hour", "1.5 hours").

    "in 30 minutes" is a moment, not a length, and is left alone.

    Returns:
        The duration and the span consumed, or None when there is none.
    """
    for found in _DURATION.finditer(text):
        if _after_in(text, found.start()):
            continue
        minutes = _duration_minutes(found)
        if minutes <= 0:
            continue
        start, end = found.span()
        return DurationMatch(
            duration=timedelta(minutes=minutes),
            span=Span(start=start, end=end, text=text[start:end]),
        )
    return None


def _after_in(text: str, start: int) -> bool:
    """Whether the word "in" and whitespace come just before `start` ("in 30 minutes").

    Looks back from `start` only, so checking every candidate of a long text stays linear.
    """
    i = start
    while i > 0 and text[i - 1].isspace():
        i -= 1
    before = text[i - 3] if i >= 3 else ""
    return i < start and text[max(0, i - 2) : i].lower() == "in" and not _is_word_char(before)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _duration_minutes(found: re.Match[str]) -> float:
    if found["half"]:
        return 30
    if found["hhalf"]:
        return 90
    if found["quarter"]:
        return 15
    if found["h"]:
        return _number(found["h"]) * 60 + int(found["hm"] or found["hm2"] or 0)
    return _number(found["m"])
