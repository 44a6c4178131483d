"""Rate limits (seed layer 6): per-integration quotas shared by every execution in a process.

With PostgreSQL (or a SQLite file) or Redis configured, the quotas hold across processes too.

The executor wraps each agent call in ``async with limiter.slot(spec.rate_limit_key):``. A key
may carry two limits, both enforced before the call is admitted:

* a **quota** of `RateLimit.requests` per `RateLimit.window_s`, kept as a *moving window*: a
  log of admission times, so over **any** interval of ``window_s`` at most ``requests`` calls
  are admitted. The log is the `limits` library's moving window strategy, or an
  `AdmissionStore` (see below). A burst of up to ``requests`` calls is allowed after an idle
  window and never more; ``limits`` has no token bucket, its fixed window lets twice the quota
  through around a window boundary, and its sliding-window counter is an approximation.
* a **concurrency cap** of `RateLimit.concurrent` calls in flight at once.

A call over either limit waits in a FIFO queue of its key: only the head of the queue tries to
get in (and sleeps until the window frees a slot, or until a call ends), so admission is first
come, first served and waiting costs no polling herd. A call that would wait longer than
`RateLimit.max_wait_s` fails with `RateLimitedError`, whose ``retry_after`` says when the window
next admits a call; the recovery ladder retries it.

Across processes: by default the quota lives in a ``limits`` storage chosen by URI. The
default, ``async+memory://``, is per process. A shared storage such as Redis
(``async+redis://host``, with the ``coredis`` client installed) or MongoDB makes the quota hold
across processes; memcached lacks the moving window. PostgreSQL is not a ``limits`` backend:
given an `AdmissionStore` (`baton.store.sql.rate_limits.SqlAdmissionStore`, which the engine
uses whenever its state is in SQLite or PostgreSQL), the quota is that store's admission log
instead, shared by every process on the database, whose clocks must then agree (NTP). The FIFO
queue and the concurrency cap stay per process: processes sharing a quota compete for it
without a common queue. Both logs read the wall clock, so tests use short windows.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import anyio
from limits import RateLimitItemPerSecond
from limits.aio.storage import Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import ConfigurationError
from limits.storage import storage_from_string

from baton.errors import ConfigError, RateLimitedError, UsageError
from baton.store.rate_limits import AdmissionStore

__all__ = ["MEMORY_STORAGE", "RateLimit", "RateLimiter"]

MEMORY_STORAGE = "async+memory://"
"""The default storage URI: quotas held in this process only."""

_MIN_SLEEP = 0.001
"""Shortest sleep of the head of a queue, so a window edge never turns into a busy loop."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RateLimit:
    """The limits of one rate-limit key (an integration such as ``http:api.example.com``)."""

    requests: int | None = None
    """Calls admitted per moving window of `window_s` seconds; None for no quota."""
    window_s: float = 1.0
    """Length of the moving window, in seconds."""
    concurrent: int | None = None
    """Calls in flight at once (in this process); None for no cap."""
    max_wait_s: float = 30.0
    """Longest a call waits for admission before `RateLimitedError`; 0 fails at once."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.requests is not None and self.requests < 1:
            problems.append(f"requests must be at least 1, not {self.requests}")
        if not self.window_s > 0 or math.isinf(self.window_s):
            problems.append(f"window_s must be a positive number of seconds, not {self.window_s}")
        if self.concurrent is not None and self.concurrent < 1:
            problems.append(f"concurrent must be at least 1, not {self.concurrent}")
        if not self.max_wait_s >= 0:
            problems.append(f"max_wait_s must be 0 or more, not {self.max_wait_s}")
        if problems:
            raise ConfigError(f"invalid rate limit: {'; '.join(problems)}")


class _Quota(RateLimitItemPerSecond):
    """``requests`` per ``window_s`` seconds, where ``window_s`` may be a fraction.

    ``limits`` types window lengths as whole seconds, but its in-memory moving window computes
    with any number; shared storages get whole seconds only (`RateLimiter` checks that).
    """

    __slots__ = ("window_s",)

    def __init__(self, requests: int, window_s: float) -> None:
        super().__init__(requests, 1, namespace="baton")
        self.window_s = int(window_s) if float(window_s).is_integer() else window_s

    def get_expiry(self) -> int:
        """The window length in seconds (a float for sub-second windows in memory)."""
        return self.window_s  # pyright: ignore[reportReturnType]


class _Waiter:
    """One call waiting for admission; `event` is set to wake it for another look."""

    __slots__ = ("event",)

    def __init__(self) -> None:
        self.event = anyio.Event()


@dataclass(slots=True, kw_only=True)
class _KeyState:
    """The queue and the calls in flight of one key, in this process."""

    key: str
    limit: RateLimit
    quota: _Quota | None
    queue: deque[_Waiter] = field(default_factory=deque[_Waiter])
    in_flight: int = 0
    quota_free_at: float | None = None
    """With an `AdmissionStore`: when (``anyio.current_time()``) its last refusal said the
    window frees a slot; None after an admission."""

    def has_free_slot(self) -> bool:
        return self.limit.concurrent is None or self.in_flight < self.limit.concurrent

    def wake_head(self) -> None:
        if self.queue:
            self.queue[0].event.set()


class RateLimiter:
    """Admits calls per rate-limit key under their `RateLimit`; one instance per process.

    Args:
        limits: Limits by key. A key without its own entry falls back to the entry named by
            its prefix before ``:`` (``http`` covers ``http:api.example.com``, each host with
            its own quota of that size); a key with neither is unlimited.
        storage_uri: Where quotas are kept (a ``limits`` async storage URI). The default is
            this process's memory; use e.g. ``async+redis://host:6379`` to share quotas
            between processes.
        admissions: Keep quotas in this admission log instead of a ``limits`` storage (e.g.
            `baton.store.sql.rate_limits.SqlAdmissionStore`, shared through the database).
        on_wait: Called with the key and the seconds a call of a limited key spent in its
            queue, once it is admitted or refused (0.0 when admitted at once); for metrics.
            It must not raise.

    Raises:
        ConfigError: the storage URI is unknown, not async, lacks a moving window, or is
            shared while a window is not a whole number of seconds.
        UsageError: both `admissions` and a `storage_uri` were given.
    """

    def __init__(
        self,
        limits: Mapping[str, RateLimit],
        *,
        storage_uri: str = MEMORY_STORAGE,
        admissions: AdmissionStore | None = None,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self._limits = dict(limits)
        self._on_wait = on_wait
        self._admissions = admissions
        self._strategy: MovingWindowRateLimiter | None = None
        self._states: dict[str, _KeyState] = {}
        if admissions is not None:
            if storage_uri != MEMORY_STORAGE:
                raise UsageError("give a rate limiter admissions or a storage_uri, not both")
            return
        if urlsplit(storage_uri).scheme != "async+memory":
            fractional = sorted(k for k, v in self._limits.items() if v.window_s % 1)
            if fractional:
                raise ConfigError(
                    f"rate limits {fractional} have windows that are not whole seconds",
                    hint="shared rate-limit storages keep windows in whole seconds",
                )
        self._strategy = MovingWindowRateLimiter(_open_storage(storage_uri))

    def limit_for(self, key: str) -> RateLimit | None:
        """The limit that applies to `key`, if any."""
        found = self._limits.get(key)
        if found is None and ":" in key:
            found = self._limits.get(key.partition(":")[0])
        return found

    async def usage(self) -> dict[str, tuple[int, int]]:
        """Read-only: ``(spent, size)`` of the quota of each key this process has used.

        Spent is what the current moving window holds. Only with a ``limits`` storage: with
        an `AdmissionStore` the counts are the store's (``rate_limit_admissions`` in SQL),
        and this is empty.
        """
        if self._strategy is None:
            return {}
        found: dict[str, tuple[int, int]] = {}
        for key, state in list(self._states.items()):
            if state.quota is not None:
                stats = await self._strategy.get_window_stats(state.quota, key)
                amount = state.quota.amount
                found[key] = (min(max(amount - stats.remaining, 0), amount), amount)
        return found

    @asynccontextmanager
    async def slot(self, key: str | None) -> AsyncIterator[None]:
        """Hold one admission for `key` while the block runs; None or an unlimited key waits not.

        Waits first come, first served until the quota and the concurrency cap admit the call.
        The concurrency slot is released when the block ends, however it ends; the quota is
        spent either way (the call was made).

        Raises:
            RateLimitedError: admission would take longer than the key's ``max_wait_s``.
        """
        state = self._state(key) if key is not None else None
        if state is None:
            yield
            return
        await self._admit(state)
        try:
            yield
        finally:
            state.in_flight -= 1
            state.wake_head()

    def _state(self, key: str) -> _KeyState | None:
        state = self._states.get(key)
        if state is None:
            limit = self.limit_for(key)
            if limit is None:
                return None
            quota = None if limit.requests is None else _Quota(limit.requests, limit.window_s)
            state = self._states[key] = _KeyState(key=key, limit=limit, quota=quota)
        return state

    async def _admit(self, state: _KeyState) -> None:
        """Wait in `state`'s queue until admitted; on return the caller holds a slot."""
        waiter = _Waiter()
        state.queue.append(waiter)
        began = anyio.current_time()
        deadline = began + state.limit.max_wait_s
        try:
            while True:
                # A fresh event before looking: a wake-up during the awaits below is not lost.
                waiter.event = anyio.Event()
                wait_s = math.inf
                if state.queue[0] is waiter and state.has_free_slot():
                    wait_s = await self._take_quota(state)
                    if wait_s == 0:
                        state.in_flight += 1  # no await between this and the caller's `try`
                        if self._on_wait is not None:
                            self._on_wait(state.key, anyio.current_time() - began)
                        return
                now = anyio.current_time()
                if now >= deadline:
                    if self._on_wait is not None:
                        self._on_wait(state.key, now - began)
                    raise await self._refusal(state)
                with anyio.move_on_at(min(deadline, now + wait_s)):
                    await waiter.event.wait()
        finally:
            state.queue.remove(waiter)
            state.wake_head()

    async def _take_quota(self, state: _KeyState) -> float:
        """Spend one unit of quota: 0 when admitted, else seconds until the window frees one."""
        if state.quota is None:
            return 0.0
        if self._admissions is not None:
            assert state.limit.requests is not None
            wait_s: float | None = None
            # Shielded: a cancellation after the store logged the admission would spend it unused.
            with anyio.CancelScope(shield=True):
                wait_s = await self._admissions.try_admit(
                    state.key, state.limit.requests, state.limit.window_s, datetime.now(UTC)
                )
            if wait_s is None:
                state.quota_free_at = None
                return 0.0
            wait_s = max(wait_s, _MIN_SLEEP)
            state.quota_free_at = anyio.current_time() + wait_s
            return wait_s
        assert self._strategy is not None
        # Shielded: a cancellation after the storage counted the hit would spend it unused.
        with anyio.CancelScope(shield=True):
            if await self._strategy.hit(state.quota, state.key):
                return 0.0
        stats = await self._strategy.get_window_stats(state.quota, state.key)
        return max(stats.reset_time - time.time(), _MIN_SLEEP)

    async def _refusal(self, state: _KeyState) -> RateLimitedError:
        limit = state.limit
        if state.quota is not None and self._strategy is None:
            now = anyio.current_time()
            if state.quota_free_at is not None and state.quota_free_at > now:
                retry_after = state.quota_free_at - now  # the store's last word: window full
            else:  # held up by the concurrency cap or callers ahead: one call's share
                retry_after = limit.window_s / state.quota.amount
        elif state.quota is not None:
            assert self._strategy is not None
            stats = await self._strategy.get_window_stats(state.quota, state.key)
            if stats.remaining <= 0:
                retry_after = stats.reset_time - time.time()
            else:  # held up by the concurrency cap or callers ahead: one call's share
                retry_after = limit.window_s / state.quota.amount
        else:  # only the concurrency cap: calls in flight end when they end
            retry_after = limit.max_wait_s
        return RateLimitedError(
            f"rate limit of {state.key!r} still full after waiting {limit.max_wait_s:g}s",
            hint="retry later, or raise its quota in BATON_RATE_LIMITS",
            retry_after=max(retry_after, _MIN_SLEEP),
        )


def _open_storage(uri: str) -> Storage:
    try:
        storage = storage_from_string(uri)
    except ConfigurationError as exc:
        raise ConfigError(f"unusable rate-limit storage {uri!r}: {exc}") from None
    if not isinstance(storage, Storage):
        raise ConfigError(
            f"rate-limit storage {uri!r} is not asynchronous",
            hint=f"use an async+ URI such as {MEMORY_STORAGE} or async+redis://host:6379",
        )
    if not hasattr(storage, "acquire_entry"):
        raise ConfigError(
            f"rate-limit storage {uri!r} has no moving window",
            hint="use memory, Redis or MongoDB",
        )
    return storage
