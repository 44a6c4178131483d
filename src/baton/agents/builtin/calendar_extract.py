"""Read the calendar agents' inputs out of a clause, for the offline planner.

Each extractor blanks out what it has used (addresses, paths, quoted titles) before looking for
dates, so ``out/week.ics`` is never read as "week" and a title never as a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from baton.agents.parsing.temporal import (
    When,
    WhenKind,
    date_like,
    localize,
    parse_duration,
    parse_when,
)
from baton.agents.parsing.text import EMAIL_RE
from baton.agents.protocol import Extraction, ExtractionContext

__all__ = ["create_event", "export_ics", "find_slots", "import_ics", "list_events"]

# Every pattern here is linear on any input: a match may start only where a run of the
# characters it repeats starts (the lookbehinds), a curly quote's text stops at another opening
# one, and no two quantifiers can share a run of spaces, so no run is scanned from each of its
# positions.
_ICS_PATH = re.compile(
    r"""(?P<quote>['"])(?P<quoted>[^'"]*?\.ics)(?P=quote)"""
    r"""|(?<![\w~./\\-])(?P<path>[\w~./\\-]*[\w-]\.ics)(?![\w/])""",
    re.I,
)
_QUOTED = re.compile(
    r"""(?:^|(?<=[\s(:]))(?:'(?P<s>[^']+)'|"(?P<d>[^"]+)"|"""
    r"""\u201c(?P<c>[^\u201c\u201d]+)\u201d|\u2018(?P<q>[^\u2018\u2019]+)\u2019)"""
    r"""(?=[\s,.;:!?)]|$)"""
)
_CALLED = re.compile(r"\b(?:called|titled|named)\s+(?P<title>[A-Z0-9][\w-]*(?:\s+[A-Z0-9][\w-]*)*)")
_KIND_OF_EVENT = re.compile(
    r"\b(meeting|call|sync|stand-?up|review|lunch|interview|catch-?up|1:1|one-on-one|demo)\b",
    re.I,
)
_BUFFER = re.compile(
    r"\b(?:with\s+)?(?:an?\s+)?(?P<n>\d+)[\s-]*(?:minutes?|mins?|m)\s+buffers?\b"
    r"|\bbuffers?\s+of\s+(?P<n2>\d+)\s*(?:minutes?|mins?|m)\b",
    re.I,
)
_BETWEEN = re.compile(
    r"\bbetween\s+(?P<a>\d{1,2}(?::\d{2})?)(?:\s*+(?P<ap>[ap]m))?\s++and\s+"
    r"(?P<b>\d{1,2}(?::\d{2})?)\s*(?P<bp>[ap]m)?\b",
    re.I,
)
_COUNT = re.compile(
    r"\b(?P<n>\d+|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:free\s+|open\s+|possible\s+)?(?:slots|options|times)\b",
    re.I,
)
_NAMED_PERSON = re.compile(r"\bwith\s+(?P<name>[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)\b")
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}
_WORDS |= {"nine": 9, "ten": 10}


class _Clause:
    """A clause with the parts already used blanked out (offsets stay those of the clause)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def blank(self, spans: Iterable[tuple[int, int]]) -> None:
        chars = list(self.text)
        for start, end in spans:
            chars[start:end] = " " * (end - start)
        self.text = "".join(chars)

    def take(self, pattern: re.Pattern[str]) -> re.Match[str] | None:
        found = pattern.search(self.text)
        if found is not None:
            self.blank([found.span()])
        return found

    def emails(self) -> list[str]:
        found = list(EMAIL_RE.finditer(self.text))
        self.blank(m.span() for m in found)
        seen: dict[str, str] = {}
        for m in found:
            seen.setdefault(m.group().casefold(), m.group().lower())
        return list(seen.values())

    def when(self, ctx: ExtractionContext) -> When | None:
        found = parse_when(self.text, now=ctx.now, timezone=ctx.timezone)
        if found is not None:
            self.blank((s.start, s.end) for s in found.spans)
        return found

    def unread_dates(self) -> list[str]:
        """Day- or date-looking phrases still in the text: said, but not read as the time.

        Call it last, once what was read is blanked ("on blursday", "on the 45th", "next month",
        a second day): a plan made without them would search or book the wrong time.
        """
        return [f"{s.text} (not a day or date that can be read)" for s in date_like(self.text)]

    def duration(self) -> int | None:
        found = parse_duration(self.text)
        if found is None:
            return None
        self.blank([(found.span.start, found.span.end)])
        return max(1, round(found.duration / timedelta(minutes=1)))


def _fmt(moment: datetime) -> str:
    return moment.strftime("%a %d %b %Y %H:%M")


def _window_inputs(
    when: When | None, ctx: ExtractionContext, start_key: str, end_key: str
) -> dict[str, Any]:
    """The window a time names; an instant stretches to the end of its day."""
    if when is None:
        return {}
    end = when.end
    if end is None:
        end = localize(when.start.date() + timedelta(days=1), time(0), ZoneInfo(ctx.timezone))
    return {start_key: when.start.isoformat(), end_key: end.isoformat()}


def _clock(value: str, suffix: str | None) -> str:
    hour, _, minute = value.partition(":")
    h = int(hour)
    if suffix:
        h = h % 12 + (12 if suffix.lower() == "pm" else 0)
    elif 1 <= h <= 6:  # "between 10 and 4": 4 in the afternoon
        h += 12
    return f"{h:02}:{int(minute or 0):02}"


def find_slots(clause: str, ctx: ExtractionContext) -> Extraction:
    """Inputs of ``calendar.find_slots`` from e.g. "find a free hour with a@b.com next week"."""
    text = _Clause(clause)
    inputs: dict[str, Any] = {}
    unparsed: list[str] = []
    if attendees := text.emails():
        inputs["attendees"] = attendees
    if (buffer := text.take(_BUFFER)) is not None:
        inputs["buffer_minutes"] = int(buffer["n"] or buffer["n2"])
    if (between := text.take(_BETWEEN)) is not None:
        hours = f"{_clock(between['a'], between['ap'])}-{_clock(between['b'], between['bp'])}"
        inputs["working_hours"] = hours
    if (count := text.take(_COUNT)) is not None:
        inputs["limit"] = _WORDS.get(count["n"].lower()) or int(count["n"])
    if (minutes := text.duration()) is not None:
        inputs["duration_minutes"] = minutes
    when = text.when(ctx)
    inputs |= _window_inputs(when, ctx, "window_start", "window_end")
    if (named := _NAMED_PERSON.search(text.text)) is not None:
        unparsed.append(f"{named['name']} (an attendee needs an email address)")
    unparsed += text.unread_dates()
    who = ", ".join(attendees) if attendees else "everyone in the calendar"
    span = f" {when.text}" if when else " in the next 7 days"
    return Extraction(
        inputs=inputs,
        understood=f"find {inputs.get('duration_minutes', 60)}-minute free slots for {who}{span}",
        unparsed=tuple(unparsed),
    )


def _title(text: _Clause) -> str | None:
    if (quoted := text.take(_QUOTED)) is not None:
        return next(g for g in quoted.groups() if g is not None).strip()
    if (called := text.take(_CALLED)) is not None:
        return called["title"]
    return None


def create_event(clause: str, ctx: ExtractionContext) -> Extraction:
    """Inputs of ``calendar.create_event`` from e.g. "schedule 'Sync' with a@b.com at 3pm"."""
    text = _Clause(clause)
    inputs: dict[str, Any] = {}
    unparsed: list[str] = []
    title = _title(text)
    if attendees := text.emails():
        inputs["attendees"] = attendees
    if (minutes := text.duration()) is not None:
        inputs["duration_minutes"] = minutes
    when = text.when(ctx)
    from_previous: tuple[str, ...] = ()
    if when is not None and when.kind is WhenKind.INSTANT:
        inputs["start"] = when.start.isoformat()
    elif when is not None:
        unparsed.append(f"{when.text} (a day or range, not a start time)")
    unparsed += text.unread_dates()
    if "start" not in inputs and "calendar.find_slots" in ctx.previous_agents:
        # "book it": the planner links start/end to the best slot the search found.
        from_previous = ("start", "end") if attendees else ("start", "end", "attendees")
    if title is None:
        kind = _KIND_OF_EVENT.search(text.text)
        title = kind.group(1).capitalize() if kind else "Meeting"
    inputs["title"] = title
    if from_previous:
        when_words = "at the slot found"
    elif when is not None and "start" in inputs:
        when_words = f"on {_fmt(when.start)}"
    else:
        when_words = "(no start time given)"
    return Extraction(
        inputs=inputs,
        from_previous=from_previous,
        understood=f"create the event {title!r} {when_words}"
        + (f" with {', '.join(attendees)}" if attendees else ""),
        unparsed=tuple(unparsed),
    )


def list_events(clause: str, ctx: ExtractionContext) -> Extraction:
    """Inputs of ``calendar.list_events`` from e.g. "what is on my calendar tomorrow"."""
    text = _Clause(clause)
    inputs: dict[str, Any] = {}
    if attendees := text.emails():
        inputs["attendee"] = attendees[0]
    when = text.when(ctx)
    inputs |= _window_inputs(when, ctx, "start", "end")
    unparsed = [f"{a} (only one attendee can be listed)" for a in attendees[1:]]
    return Extraction(
        inputs=inputs,
        understood="list events "
        + (when.text if when else "in the next 7 days")
        + (f" with {attendees[0]}" if attendees else ""),
        unparsed=(*unparsed, *text.unread_dates()),
    )


def _path(text: _Clause) -> str | None:
    found = text.take(_ICS_PATH)
    return (found["quoted"] or found["path"]) if found is not None else None


def import_ics(clause: str, ctx: ExtractionContext) -> Extraction:
    """Inputs of ``calendar.import_ics`` from e.g. "import calendar.ics"."""
    path = _path(_Clause(clause))
    if path is None:
        return Extraction(understood="import an .ics file", unparsed=("no .ics file named",))
    return Extraction(inputs={"path": path}, understood=f"import the events of {path}")


def export_ics(clause: str, ctx: ExtractionContext) -> Extraction:
    """Inputs of ``calendar.export_ics`` from e.g. "export my calendar to out/week.ics"."""
    text = _Clause(clause)
    path = _path(text)
    inputs: dict[str, Any] = {"path": path} if path else {}
    if attendees := text.emails():
        inputs["attendee"] = attendees[0]
    when = text.when(ctx)
    inputs |= _window_inputs(when, ctx, "start", "end")
    what = "events " + (when.text if when else "(all)")
    unparsed = [] if path else ["no .ics file to write named"]
    return Extraction(
        inputs=inputs,
        understood=f"export {what} to {path or '(no file named)'}",
        unparsed=(*unparsed, *text.unread_dates()),
    )
