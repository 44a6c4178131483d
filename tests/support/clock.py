"""A clock tests can move by hand (stores and services take an injectable clock)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)
"""A Monday morning, the default start."""


class FakeClock:
    """Returns `now`, which only changes when a test says so."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
