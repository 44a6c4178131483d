"""The rate limiter: FIFO admission under a moving-window quota and a concurrency cap.

``limits`` reads the wall clock itself, so these tests use windows of 0.05-0.3 s.
"""

from __future__ import annotations

import time
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from baton.errors import ConfigError, RateLimitedError, UsageError
from baton.safety.rate_limit import RateLimit, RateLimiter
from baton.settings import Settings
from baton.store.rate_limits import MemoryAdmissionStore
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.rate_limits import SqlAdmissionStore
from baton.store.sql.schema import create_schema

pytestmark = pytest.mark.anyio

# Admission times are read just after the storage logs them (microseconds later); a little
# slack keeps that gap from reading as two admissions one window apart being in one window.
_CLOCK_SLACK = 0.002


async def _settle() -> None:
    """Let the tasks just started reach their first wait.

    (``anyio.wait_all_tasks_blocked`` polls every 0.1 s on asyncio while the ``limits`` memory
    storage keeps a housekeeping task busy, which would blur the timings measured here.)
    """
    await anyio.sleep(0.005)


def _max_in_any_window(times: list[float], window: float) -> int:
    """The most admissions in any half-open interval [t, t + window) starting at an admission."""
    times = sorted(times)
    best, lo = 0, 0
    for hi, t in enumerate(times):
        while times[lo] <= t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


async def test_unlimited_keys_pass_straight_through() -> None:
    limiter = RateLimiter({"a": RateLimit(requests=1, window_s=10, max_wait_s=0)})
    for key in (None, "b", "b:host"):
        for _ in range(5):
            async with limiter.slot(key):
                pass


async def test_fifo_order_under_the_concurrency_cap() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=1)})
    order: list[int] = []
    gate = anyio.Event()

    async def call(i: int) -> None:
        async with limiter.slot("k"):
            order.append(i)
            if i == 0:
                await gate.wait()

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(call, i)
            await _settle()  # call i is queued before call i + 1 arrives
        gate.set()
    assert order == list(range(6))


async def test_fifo_order_and_pace_under_the_quota() -> None:
    window = 0.1
    limiter = RateLimiter({"k": RateLimit(requests=2, window_s=window)})
    admitted: list[tuple[int, float]] = []

    async def call(i: int) -> None:
        async with limiter.slot("k"):
            admitted.append((i, time.time()))

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(call, i)
            await _settle()
    assert [i for i, _ in admitted] == list(range(6))
    times = [t for _, t in admitted]
    assert times[-1] - times[0] >= 2 * window - _CLOCK_SLACK  # three windows' worth of calls
    assert _max_in_any_window(times, window - _CLOCK_SLACK) <= 2


async def test_the_concurrency_cap_is_never_exceeded() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=3)})
    in_flight = peak = 0

    async def call() -> None:
        nonlocal in_flight, peak
        async with limiter.slot("k"):
            in_flight += 1
            peak = max(peak, in_flight)
            await anyio.sleep(0.01)
            in_flight -= 1

    async with anyio.create_task_group() as tg:
        for _ in range(12):
            tg.start_soon(call)
    assert peak == 3


async def test_past_the_wait_limit_the_call_is_rate_limited_with_retry_after() -> None:
    limiter = RateLimiter({"k": RateLimit(requests=1, window_s=0.3, max_wait_s=0.05)})
    async with limiter.slot("k"):
        pass
    started = anyio.current_time()
    with pytest.raises(RateLimitedError) as caught:
        async with limiter.slot("k"):
            pytest.fail("admitted over quota")
    waited = anyio.current_time() - started
    assert 0.05 <= waited < 0.25
    error = caught.value
    assert error.retryable
    assert error.retry_after is not None
    # The window frees its slot 0.3 s after the first call, about 0.05 s of which has passed.
    assert 0.15 < error.retry_after <= 0.3
    assert "'k'" in error.message


async def test_zero_wait_fails_at_once_on_a_full_concurrency_cap() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=1, max_wait_s=0)})
    async with limiter.slot("k"):
        with pytest.raises(RateLimitedError) as caught:
            async with limiter.slot("k"):
                pytest.fail("admitted over the cap")
    assert caught.value.retry_after is not None
    assert caught.value.retry_after > 0
    async with limiter.slot("k"):  # released, and the refused call left no trace in the queue
        pass


async def test_a_refused_waiter_does_not_block_those_behind_it() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=1, max_wait_s=0.05)})
    gate = anyio.Event()
    outcomes: list[str] = []

    async def holder() -> None:
        async with limiter.slot("k"):
            await gate.wait()

    async def waiter() -> None:
        try:
            async with limiter.slot("k"):
                outcomes.append("admitted")
        except RateLimitedError:
            outcomes.append("refused")

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await _settle()
        tg.start_soon(waiter)
        await anyio.sleep(0.1)  # the waiter gives up
        gate.set()
    async with limiter.slot("k"):
        outcomes.append("later")
    assert outcomes == ["refused", "later"]


async def test_the_slot_is_released_when_the_call_raises() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=1, max_wait_s=0)})
    with pytest.raises(ValueError, match="boom"):
        async with limiter.slot("k"):
            raise ValueError("boom")
    async with limiter.slot("k"):
        pass


async def test_the_slot_is_released_when_the_call_is_cancelled() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=1, max_wait_s=0)})
    with anyio.move_on_after(0.02) as scope:
        async with limiter.slot("k"):
            await anyio.sleep(10)
    assert scope.cancelled_caught
    async with limiter.slot("k"):
        pass


async def test_a_cancelled_waiter_leaves_the_queue() -> None:
    limiter = RateLimiter({"k": RateLimit(concurrent=1)})
    order: list[str] = []
    gate = anyio.Event()

    async def holder() -> None:
        async with limiter.slot("k"):
            await gate.wait()
        order.append("holder done")

    async def call(name: str) -> None:
        async with limiter.slot("k"):
            order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await _settle()
        async with anyio.create_task_group() as doomed:
            doomed.start_soon(call, "cancelled")
            await _settle()
            tg.start_soon(call, "next")
            await _settle()
            doomed.cancel_scope.cancel()  # the head of the queue leaves while waiting
        gate.set()
    assert order == ["holder done", "next"]


async def test_keys_are_independent() -> None:
    limiter = RateLimiter(
        {
            "a": RateLimit(requests=1, window_s=10, max_wait_s=0),
            "b": RateLimit(requests=1, window_s=10, max_wait_s=0),
        }
    )
    async with limiter.slot("a"):
        pass
    async with limiter.slot("b"):  # a's quota is spent; b's is not
        pass
    with pytest.raises(RateLimitedError):
        async with limiter.slot("a"):
            pass


async def test_a_prefix_limit_gives_each_host_its_own_quota() -> None:
    limiter = RateLimiter({"http": RateLimit(requests=1, window_s=10, max_wait_s=0)})
    assert limiter.limit_for("http:api.example.com") == limiter.limit_for("http")
    async with limiter.slot("http:a.example"):
        pass
    async with limiter.slot("http:b.example"):
        pass
    with pytest.raises(RateLimitedError):
        async with limiter.slot("http:a.example"):
            pass


@pytest.mark.parametrize(
    "bad",
    [
        {"requests": 0},
        {"window_s": 0},
        {"window_s": float("inf")},
        {"concurrent": 0},
        {"max_wait_s": -1},
    ],
)
def test_invalid_limits_are_config_errors(bad: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="invalid rate limit"):
        RateLimit(**bad)  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize(
    ("uri", "window", "message"),
    [
        ("bogus://x", 1, "unusable"),
        ("memory://", 1, "not asynchronous"),
        ("async+redis://localhost:6379", 0.5, "whole seconds"),
    ],
)
def test_unusable_storages_are_config_errors(uri: str, window: float, message: str) -> None:
    limits = {"k": RateLimit(requests=1, window_s=window)}
    with pytest.raises(ConfigError, match=message):
        RateLimiter(limits, storage_uri=uri)


def test_limits_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BATON_RATE_LIMITS",
        '{"http:api.example.com": {"requests": 10, "window_s": 1, "concurrent": 2}}',
    )
    setting = Settings().rate_limits["http:api.example.com"]
    limit = RateLimit(**setting.model_dump())
    assert limit == RateLimit(requests=10, window_s=1, concurrent=2, max_wait_s=30)
    assert Settings(_env_file=None).rate_limits == {  # pyright: ignore[reportCallIssue]
        "http:api.example.com": setting
    }


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    requests=st.integers(min_value=1, max_value=4),
    window=st.sampled_from([0.05, 0.08]),
    concurrent=st.one_of(st.none(), st.integers(min_value=1, max_value=3)),
    arrivals=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=0.1),  # arrival time
            st.floats(min_value=0, max_value=0.02),  # how long the call holds its slot
        ),
        min_size=1,
        max_size=12,
    ),
)
async def test_admissions_never_exceed_the_quota_in_any_window(
    requests: int,
    window: float,
    concurrent: int | None,
    arrivals: list[tuple[float, float]],
) -> None:
    limit = RateLimit(requests=requests, window_s=window, concurrent=concurrent, max_wait_s=0.1)
    limiter = RateLimiter({"k": limit})
    admitted: list[float] = []
    retry_afters: list[float | None] = []
    in_flight = peak = 0

    async def call(at: float, hold: float) -> None:
        nonlocal in_flight, peak
        await anyio.sleep(at)
        try:
            async with limiter.slot("k"):
                admitted.append(time.time())
                in_flight += 1
                peak = max(peak, in_flight)
                await anyio.sleep(hold)
                in_flight -= 1
        except RateLimitedError as exc:
            retry_afters.append(exc.retry_after)

    async with anyio.create_task_group() as tg:
        for at, hold in arrivals:
            tg.start_soon(call, at, hold)

    assert len(admitted) + len(retry_afters) == len(arrivals)
    assert all(r is not None and 0 < r <= max(window, limit.max_wait_s) for r in retry_afters)
    assert admitted  # the first arrival always gets in
    assert _max_in_any_window(admitted, window - _CLOCK_SLACK) <= requests
    assert peak <= (concurrent or len(arrivals))


async def test_an_admission_store_keeps_the_quota_and_the_fifo_pace() -> None:
    window = 0.1
    limiter = RateLimiter(
        {"k": RateLimit(requests=2, window_s=window)}, admissions=MemoryAdmissionStore()
    )
    admitted: list[tuple[int, float]] = []

    async def call(i: int) -> None:
        async with limiter.slot("k"):
            admitted.append((i, time.time()))

    async with anyio.create_task_group() as tg:
        for i in range(6):
            tg.start_soon(call, i)
            await _settle()
    assert [i for i, _ in admitted] == list(range(6))
    times = [t for _, t in admitted]
    assert times[-1] - times[0] >= 2 * window - _CLOCK_SLACK
    assert _max_in_any_window(times, window - _CLOCK_SLACK) <= 2


async def test_an_admission_store_refusal_says_when_the_window_frees() -> None:
    limiter = RateLimiter(
        {"k": RateLimit(requests=1, window_s=0.3, max_wait_s=0.05)},
        admissions=MemoryAdmissionStore(),
    )
    async with limiter.slot("k"):
        pass
    with pytest.raises(RateLimitedError) as caught:
        async with limiter.slot("k"):
            pytest.fail("admitted over quota")
    retry_after = caught.value.retry_after
    assert retry_after is not None
    assert 0.15 < retry_after <= 0.3


def test_an_admission_store_and_a_storage_uri_exclude_each_other() -> None:
    with pytest.raises(UsageError, match="not both"):
        RateLimiter(
            {"k": RateLimit(requests=1)},
            storage_uri="async+redis://localhost:6379",
            admissions=MemoryAdmissionStore(),
        )


async def test_two_processes_sharing_a_database_share_the_quota(tmp_path: Path) -> None:
    """Two limiters on two connections to one SQLite file: two processes on one database."""
    url = sqlite_url(tmp_path / "baton.db")
    dbs = [open_database(url), open_database(url)]
    await create_schema(dbs[0])
    limit = RateLimit(requests=3, window_s=60, max_wait_s=0.2)
    limiters = [RateLimiter({"http": limit}, admissions=SqlAdmissionStore(db)) for db in dbs]
    admitted: list[int] = []
    refused: list[float | None] = []

    async def call(p: int) -> None:
        try:
            async with limiters[p].slot("http:api.example.com"):
                admitted.append(p)
        except RateLimitedError as exc:
            refused.append(exc.retry_after)

    try:
        async with anyio.create_task_group() as tg:
            for i in range(10):
                tg.start_soon(call, i % 2)
    finally:
        for db in dbs:
            await db.dispose()
    assert len(admitted) == 3
    assert len(refused) == 7
    assert all(r is not None and 0 < r <= 60 for r in refused)
