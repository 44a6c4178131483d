# pyright: strict
"""Gathering the alert rules' `Signals`: from the store, the rate limiter and the process.

`EngineSignals` reads each tick:

- from an `Activity` (the execution store): executions running for long, how the recently
  finished ones ended, failed step attempts in the last minute, and the rate-limit
  admissions the database keeps (quotas shared by processes);
- from the rate limiter (`RateLimits`, structurally `baton.safety.rate_limit.RateLimiter`,
  which this layer may not import): each key's limit, and the quotas it keeps in this
  process's memory;
- from the operating system (`process_memory`): the process's resident memory against its
  cgroup's memory limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``), or the machine's
  RAM when no limit is set.

Tests inject any `SignalSource` instead, and so drive the rules without waiting.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

import anyio.to_thread
import psutil

from baton.observability.alerts_rules import (
    ERROR_WINDOW_S,
    AlertThresholds,
    MemoryUsage,
    QuotaUsage,
    Signals,
)
from baton.store.alerts import Activity

__all__ = [
    "EngineSignals",
    "QuotaLimit",
    "RateLimits",
    "SignalSource",
    "cgroup_memory_limit",
    "is_dead_here",
    "process_memory",
    "this_process",
]

_CGROUP_ROOT = Path("/sys/fs/cgroup")
_PROC_CGROUP = Path("/proc/self/cgroup")
_UNLIMITED = 2**60
"""A cgroup v1 limit at or above this means none (the kernel writes a page-rounded max)."""


class SignalSource(Protocol):
    """Where a tick's `Signals` come from."""

    async def gather(self, now: datetime) -> Signals:
        """The signals as of `now`."""
        ...


class QuotaLimit(Protocol):
    """A rate limit's quota (as `baton.safety.rate_limit.RateLimit` has it)."""

    @property
    def requests(self) -> int | None:
        """Calls per window; None for no quota."""
        ...

    @property
    def window_s(self) -> float:
        """The window, in seconds."""
        ...


class RateLimits(Protocol):
    """What the alerts read of the rate limiter (`baton.safety.rate_limit.RateLimiter`)."""

    def limit_for(self, key: str) -> QuotaLimit | None:
        """The limit that applies to `key`, if any."""
        ...

    async def usage(self) -> Mapping[str, tuple[int, int]]:
        """``(spent, size)`` of each quota this process keeps in its memory."""
        ...


def this_process() -> str:
    """This process, as alerts name it: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def is_dead_here(process: str) -> bool:
    """Whether `process` (``host:pid``) ran on this host and has ended."""
    host, _, pid = process.rpartition(":")
    if host != socket.gethostname() or not pid.isdecimal():
        return False
    return not psutil.pid_exists(int(pid))


def _read_limit(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not text.isdecimal():
        return None  # "max" (v2): no limit here
    value = int(text)
    return value if 0 < value < _UNLIMITED else None


def cgroup_memory_limit(root: Path = _CGROUP_ROOT, proc_cgroup: Path = _PROC_CGROUP) -> int | None:
    """The memory limit of this process's cgroup (the tightest up its tree), if any.

    Args:
        root: Where the cgroup file system is mounted.
        proc_cgroup: The process's cgroup membership file (``/proc/self/cgroup``).
    """
    try:
        lines = proc_cgroup.read_text().splitlines()
    except OSError:
        lines = []
    candidates: list[Path] = []
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":  # v2: "0::/path"
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):  # v1: "4:memory:/path"
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        folder = base / path.strip("/")
        while True:
            candidates.append(folder / name)
            if folder == base:
                break
            folder = folder.parent
    candidates += [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    limits = [limit for p in dict.fromkeys(candidates) if (limit := _read_limit(p)) is not None]
    return min(limits, default=None)


def process_memory() -> MemoryUsage | None:
    """This process's resident memory against its limit (cgroup, else RAM); None if unknown."""
    try:
        rss = psutil.Process().memory_info().rss
        total = psutil.virtual_memory().total
    except (psutil.Error, OSError):
        return None
    limit = cgroup_memory_limit()
    if limit is not None and limit < total:
        return MemoryUsage(rss_bytes=rss, limit_bytes=limit, source="cgroup")
    return MemoryUsage(rss_bytes=rss, limit_bytes=total, source="ram")


class EngineSignals:
    """A `SignalSource` over the engine: its execution store, rate limiter and process."""

    def __init__(
        self,
        activity: Activity,
        thresholds: AlertThresholds,
        *,
        rate_limits: RateLimits | None = None,
        memory: Callable[[], MemoryUsage | None] | None = process_memory,
        process: str | None = None,
    ) -> None:
        """Gather from these.

        Args:
            activity: What the execution store says (`baton.store.alerts.Activity`).
            thresholds: The rules' thresholds (they set the windows read).
            rate_limits: The rate limiter; None: no quota is watched.
            memory: Reads the process's memory use; None: not watched.
            process: This process's name (default `this_process`).
        """
        self._activity = activity
        self._thresholds = thresholds
        self._rate_limits = rate_limits
        self._memory = memory
        self.process = process or this_process()
        """This process, as the alerts it fires name it."""

    async def gather(self, now: datetime) -> Signals:
        """Read everything the rules need as of `now`."""
        t = self._thresholds
        activity = self._activity
        running = await activity.running(now - timedelta(seconds=t.long_running_s))
        outcomes = await activity.outcomes(now - timedelta(seconds=t.success_window_s))
        errors = await activity.step_errors(now - timedelta(seconds=ERROR_WINDOW_S))
        memory = None if self._memory is None else await anyio.to_thread.run_sync(self._memory)
        return Signals(
            now=now,
            process=self.process,
            running=running,
            outcomes=outcomes,
            step_errors=errors,
            memory=memory,
            quotas=await self._quotas(now),
        )

    async def _quotas(self, now: datetime) -> list[QuotaUsage]:
        limiter = self._rate_limits
        if limiter is None:
            return []

        def window_of(key: str) -> float | None:
            limit = limiter.limit_for(key)
            return None if limit is None or limit.requests is None else limit.window_s

        quotas: list[QuotaUsage] = []
        for key, spent in sorted((await self._activity.admissions(now, window_of)).items()):
            limit = limiter.limit_for(key)
            if limit is not None and limit.requests is not None:
                quotas.append(
                    QuotaUsage(key=key, spent=min(spent, limit.requests), size=limit.requests)
                )
        for key, (spent, size) in sorted((await limiter.usage()).items()):
            quotas.append(QuotaUsage(key=key, spent=spent, size=size, process=self.process))
        return quotas
