"""Rate-limit admissions: a log of when each key admitted a call, the quota shared by processes.

`baton.safety.rate_limit.RateLimiter` keeps each key's quota (``requests`` per moving window
of ``window_s`` seconds) in the ``limits`` library by default, per process. Given an
`AdmissionStore` instead, it asks the store, and every process on the same store shares the
quota: `AdmissionStore.try_admit` checks the window and records the admission atomically
against every other caller.

Time is the caller's (``now``), so every process sharing a store must keep its clock in sync
(NTP) to within a small fraction of the shortest window. The SQL implementation is
`baton.store.sql.rate_limits.SqlAdmissionStore`; both pass
``tests/store/test_admission_store.py``.
"""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta
from typing import Protocol

from baton.errors import UsageError

__all__ = ["AdmissionStore", "MemoryAdmissionStore", "window_start"]


def window_start(now: datetime, requests: int, window_s: float) -> datetime:
    """The start of the window ending at `now` (admissions *after* it count); checks the args.

    Raises:
        UsageError: `requests` is below 1, `window_s` is not positive, or `now` is naive.
    """
    if requests < 1:
        raise UsageError(f"a quota must admit at least 1 request, not {requests}")
    if not window_s > 0:
        raise UsageError(f"a rate-limit window must be positive, not {window_s!r}")
    if now.tzinfo is None:
        raise UsageError("the rate-limit clock returned a naive datetime", hint="use aware UTC")
    return now - timedelta(seconds=window_s)


class AdmissionStore(Protocol):
    """Where admissions are logged; `try_admit` is atomic against every other caller."""

    async def try_admit(
        self, key: str, requests: int, window_s: float, now: datetime
    ) -> float | None:
        """Admit one call for `key` if its window has room.

        If fewer than `requests` admissions of `key` have ``at > now - window_s``, record one
        at `now` (admissions older than the window may be dropped on the way).

        Returns:
            None when admitted; otherwise the seconds until the oldest admission in the window
            leaves it, so that a call may be admitted (always positive).
        """
        ...

    async def prune(self, before: datetime) -> int:
        """Forget every admission (of every key) made before `before`; returns how many."""
        ...


class MemoryAdmissionStore:
    """An `AdmissionStore` in a dict: one process only (tests, running without a database).

    No method awaits, so each is atomic on the event loop.
    """

    def __init__(self) -> None:
        self._log: dict[str, deque[datetime]] = {}

    async def try_admit(
        self, key: str, requests: int, window_s: float, now: datetime
    ) -> float | None:
        """Admit one call for `key` if its window has room; else the seconds to wait."""
        start = window_start(now, requests, window_s)
        times = self._log.setdefault(key, deque())
        while times and times[0] <= start:
            times.popleft()
        if len(times) < requests:
            times.append(now)
            if len(times) > 1 and times[-2] > now:  # a clock that stepped back: keep order
                self._log[key] = deque(sorted(times))
            return None
        return (times[0] - start).total_seconds()

    async def prune(self, before: datetime) -> int:
        """Forget every admission made before `before`."""
        if before.tzinfo is None:
            raise UsageError("prune needs an aware datetime", hint="use aware UTC")
        dropped = 0
        for key in list(self._log):
            times = self._log[key]
            while times and times[0] < before:
                times.popleft()
                dropped += 1
            if not times:
                del self._log[key]
        return dropped
