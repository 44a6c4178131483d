"""Free-slot search: a pure function of busy times, a window and working hours.

All interval arithmetic is done in UTC. Python adds and subtracts aware datetimes that share a
tzinfo on the wall clock, so ``9:00 + 8h`` on a DST night would be wrong by an hour; working
hours, on the other hand, are wall-clock times, so each day's opening and closing are built in
the local zone and only then compared as instants.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from baton.agents.parsing.temporal import localize

__all__ = ["Interval", "WorkingHours", "default_alignment", "find_free_slots"]

_DAY_MINUTES = 24 * 60


@dataclass(frozen=True, slots=True, kw_only=True)
class Interval:
    """A stretch of time ``[start, end)`` (timezone-aware)."""

    start: datetime
    """Inclusive start."""
    end: datetime
    """Exclusive end."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkingHours:
    """When people may be booked: a wall-clock span on some weekdays."""

    start_minute: int
    """Opening, in minutes after local midnight."""
    end_minute: int
    """Closing, in minutes after local midnight (1440 means midnight at the day's end)."""
    weekdays: frozenset[int] = frozenset(range(5))
    """Days on which it applies (0 is Monday); Monday to Friday by default."""

    @classmethod
    def parse(cls, text: str) -> WorkingHours:
        """Read ``"09:00-17:00"`` (weekdays); ``24:00`` may end the day.

        Raises:
            ValueError: the text is not two ``HH:MM`` times, the first before the second.
        """
        found = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", text)
        if found is None:
            raise ValueError(f"working hours {text!r} are not like '09:00-17:00'")
        h1, m1, h2, m2 = (int(g) for g in found.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if h1 > 23 or m1 > 59 or m2 > 59 or end > _DAY_MINUTES or end <= start:
            raise ValueError(f"working hours {text!r} must be a span within one day")
        return cls(start_minute=start, end_minute=end)

    def opening(self, day: date, zone: ZoneInfo) -> Interval | None:
        """The working span of `day` in `zone` as instants, or None on a day off."""
        if day.weekday() not in self.weekdays:
            return None
        return Interval(
            start=_wall(day, self.start_minute, zone), end=_wall(day, self.end_minute, zone)
        )


def _wall(day: date, minute: int, zone: ZoneInfo) -> datetime:
    if minute >= _DAY_MINUTES:
        return localize(day + timedelta(days=1), time(0), zone)
    return localize(day, time(minute // 60, minute % 60), zone)


def default_alignment(duration: timedelta) -> timedelta:
    """Slots start on the half hour, or the quarter hour when the length needs it."""
    half_hour = timedelta(minutes=30)
    return half_hour if duration % half_hour == timedelta(0) else timedelta(minutes=15)


def _align_up(moment: datetime, zone: ZoneInfo, align: timedelta) -> datetime:
    """The first instant at or after `moment` whose local wall time is a multiple of `align`."""
    local = moment.astimezone(zone)
    step = int(align.total_seconds())
    seconds = local.hour * 3600 + local.minute * 60 + local.second + (local.microsecond > 0)
    rounded = -(-seconds // step) * step
    aligned = _wall(local.date(), rounded // 60, zone).astimezone(UTC)
    # In the repeated hour of a fall-back night the wall time maps to the earlier instant.
    while aligned < moment:
        aligned += align
    return aligned


def _merged(busy: Iterable[Interval], buffer: timedelta) -> list[Interval]:
    spans = sorted((b.start.astimezone(UTC) - buffer, b.end.astimezone(UTC) + buffer) for b in busy)
    merged: list[Interval] = []
    for start, end in spans:
        if merged and start <= merged[-1].end:
            if end > merged[-1].end:
                merged[-1] = Interval(start=merged[-1].start, end=end)
        else:
            merged.append(Interval(start=start, end=end))
    return merged


def _free_parts(opening: Interval, busy: list[Interval]) -> Iterator[Interval]:
    cursor = opening.start
    if cursor >= opening.end:
        return
    for b in busy:
        if b.end <= cursor:
            continue
        if b.start >= opening.end:
            break
        if b.start > cursor:
            yield Interval(start=cursor, end=b.start)
        cursor = max(cursor, b.end)
    if cursor < opening.end:
        yield Interval(start=cursor, end=opening.end)


def find_free_slots(
    *,
    busy: Iterable[Interval],
    window: Interval,
    duration: timedelta,
    zone: ZoneInfo,
    working_hours: WorkingHours,
    buffer: timedelta = timedelta(0),
    align: timedelta | None = None,
    limit: int | None = None,
) -> list[Interval]:
    """Non-overlapping free slots of `duration`, earliest first, in `zone`.

    A slot lies inside `window` and inside working hours on a working day (both in `zone`),
    keeps `buffer` clear on each side of every busy interval, and starts on a local wall time
    that is a multiple of `align` (by default `default_alignment`).

    Args:
        busy: Times someone is taken, in any zones.
        window: Where to look.
        duration: Length of each slot.
        zone: Zone of the working hours and of the slots returned.
        working_hours: Bookable wall-clock span and weekdays.
        buffer: Gap kept before and after each busy interval.
        align: Grid that slot starts snap to.
        limit: Stop after this many slots (None: all in the window).

    Raises:
        ValueError: `duration` or `align` is not positive, or `buffer` is negative.
    """
    step = align or default_alignment(duration)
    if duration <= timedelta(0) or step <= timedelta(0) or buffer < timedelta(0):
        raise ValueError("duration and alignment must be positive and the buffer not negative")
    taken = _merged(busy, buffer)
    lo, hi = window.start.astimezone(UTC), window.end.astimezone(UTC)
    # Successive slots advance by the length rounded up to the grid, so none overlap.
    advance = -(-duration // step) * step
    slots: list[Interval] = []
    day, last_day = lo.astimezone(zone).date(), hi.astimezone(zone).date()
    while day <= last_day and (limit is None or len(slots) < limit):
        opening = working_hours.opening(day, zone)
        day += timedelta(days=1)
        if opening is None:
            continue
        opening = Interval(start=max(opening.start, lo), end=min(opening.end, hi))
        for part in _free_parts(opening, taken):
            start = _align_up(part.start, zone, step)
            while start + duration <= part.end and (limit is None or len(slots) < limit):
                end = start + duration
                slots.append(Interval(start=start.astimezone(zone), end=end.astimezone(zone)))
                start = _align_up(start + advance, zone, step)
    return slots
