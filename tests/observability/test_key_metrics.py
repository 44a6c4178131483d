"""The six key metrics from the database, on SQLite and PostgreSQL, with exact figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from baton.errors import UsageError
from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
)
from baton.observability.key_metrics import (
    CacheUsage,
    KeyMetrics,
    TokenUsage,
    key_metrics,
    parse_since,
)
from baton.store import ExecutionRecord, StepRecord
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


@dataclass
class Seed:
    """One execution to seed: when it was created, how long it ran, its steps' ends."""

    ex_id: str
    created_ago: timedelta
    status: ExecutionStatus
    duration_s: float | None
    steps: dict[str, StepStatus] = field(default_factory=dict[str, StepStatus])
    workspace: str = "default"


SEEDS = [
    Seed(
        "ex1",
        timedelta(hours=1),
        ExecutionStatus.SUCCEEDED,
        2.0,
        {"a": StepStatus.SUCCEEDED, "b": StepStatus.SUCCEEDED},
    ),
    Seed(
        "ex2",
        timedelta(hours=2),
        ExecutionStatus.FAILED,
        4.0,
        {"a": StepStatus.SUCCEEDED, "b": StepStatus.FAILED, "c": StepStatus.SKIPPED},
    ),
    Seed("ex3", timedelta(hours=3), ExecutionStatus.CANCELLED, 6.0, {"a": StepStatus.CANCELLED}),
    Seed("ex4", timedelta(minutes=30), ExecutionStatus.RUNNING, None, {"a": StepStatus.RUNNING}),
    Seed(
        "ex5",
        timedelta(hours=1),
        ExecutionStatus.SUCCEEDED,
        10.0,
        {"a": StepStatus.SUCCEEDED},
        workspace="other",
    ),
    Seed("ex6", timedelta(days=3), ExecutionStatus.SUCCEEDED, 100.0, {"a": StepStatus.SUCCEEDED}),
    Seed("ex7", timedelta(minutes=5), ExecutionStatus.PENDING, None, {"a": StepStatus.PENDING}),
]


def _events(seed: Seed, started: datetime) -> list[RunEvent]:
    ex = seed.ex_id
    events: list[RunEvent] = [ExecutionStarted(execution_id=ex, at=started)]
    end = started + timedelta(seconds=seed.duration_s or 1.0)
    for step, status in seed.steps.items():
        if status in (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.RUNNING):
            events.append(StepStarted(execution_id=ex, step_id=step, agent="echo", at=started))
        if status is StepStatus.SUCCEEDED:
            events.append(
                StepSucceeded(
                    execution_id=ex, step_id=step, duration_s=0.5, started_at=started, at=end
                )
            )
        elif status is StepStatus.FAILED:
            events.append(
                StepFailed(
                    execution_id=ex,
                    step_id=step,
                    error="boom",
                    error_type="AgentError",
                    started_at=started,
                    at=end,
                )
            )
        elif status is StepStatus.SKIPPED:
            events.append(StepSkipped(execution_id=ex, step_id=step, reason="b failed", at=end))
        elif status is StepStatus.CANCELLED:
            events.append(StepCancelled(execution_id=ex, step_id=step, at=end))
    if seed.status.finished:
        events.append(ExecutionFinished(execution_id=ex, status=seed.status, at=end))
    return events


async def seed_database(db: Database, now: datetime = NOW) -> None:
    """Write `SEEDS` through the real store, so rows are what the engine would write."""
    store = SqlExecutionStore(db)
    for seed in SEEDS:
        created = now - seed.created_ago
        await store.create_execution(
            ExecutionRecord(
                id=seed.ex_id,
                name="demo",
                request=None,
                plan={},
                status=ExecutionStatus.PENDING,
                created_at=created,
                workspace_id=seed.workspace,
            ),
            [
                StepRecord(execution_id=seed.ex_id, step_id=s, agent="echo", position=i)
                for i, s in enumerate(seed.steps)
            ],
        )
        if seed.status is not ExecutionStatus.PENDING:
            await store.append(_events(seed, created + timedelta(seconds=1)))


async def test_the_last_day_of_every_workspace(database: Database) -> None:
    await seed_database(database)
    m = await key_metrics(database, since=NOW - timedelta(hours=24), until=NOW)

    assert dict(m.executions) == {
        ExecutionStatus.PENDING: 1,
        ExecutionStatus.RUNNING: 1,
        ExecutionStatus.WAITING: 0,
        ExecutionStatus.SUCCEEDED: 2,
        ExecutionStatus.FAILED: 1,
        ExecutionStatus.CANCELLED: 1,
    }
    assert m.execution_count == 6
    assert m.finished == 4
    assert m.success_rate == 0.5
    assert m.average_duration_s == pytest.approx((2 + 4 + 6 + 10) / 4, abs=1e-3)
    assert (m.steps_succeeded, m.steps_failed) == (4, 1)
    assert m.error_rate == 0.2
    assert m.errors_per_minute == pytest.approx(1 / 1440)
    assert m.tokens is None
    assert m.cache_hit_rate is None


async def test_one_workspace_and_a_longer_window(database: Database) -> None:
    await seed_database(database)
    default = await key_metrics(
        database, since=NOW - timedelta(hours=24), until=NOW, workspace_id="default"
    )
    week = await key_metrics(database, since=NOW - timedelta(days=7), until=NOW)

    assert default.execution_count == 5
    assert default.success_rate == pytest.approx(1 / 3)
    assert default.average_duration_s == pytest.approx(4.0, abs=1e-3)
    assert (default.steps_succeeded, default.steps_failed) == (3, 1)
    assert week.execution_count == 7
    assert week.success_rate == 0.6
    assert week.average_duration_s == pytest.approx((2 + 4 + 6 + 10 + 100) / 5, abs=1e-3)
    assert (week.steps_succeeded, week.steps_failed) == (5, 1)


async def test_an_empty_window_has_no_rates(database: Database) -> None:
    await seed_database(database)
    m = await key_metrics(database, since=NOW + timedelta(hours=1), until=NOW + timedelta(hours=2))

    assert m.execution_count == 0
    assert m.success_rate is None
    assert m.average_duration_s is None
    assert m.error_rate is None
    assert m.errors_per_minute == 0


class FakeUsage:
    """What the intelligence layer will plug in: it sees the same window."""

    def __init__(self) -> None:
        self.asked: list[tuple[datetime, datetime, str | None]] = []

    async def token_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> TokenUsage | None:
        self.asked.append((since, until, workspace_id))
        return TokenUsage(input_tokens=1000, output_tokens=250, cost_usd=0.02)

    async def cache_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> CacheUsage | None:
        return CacheUsage(hits=3, misses=1)


async def test_a_usage_source_fills_tokens_and_cache(database: Database) -> None:
    usage = FakeUsage()
    since = NOW - timedelta(hours=1)
    m = await key_metrics(database, since=since, until=NOW, workspace_id="w", usage=usage)

    assert usage.asked == [(since, NOW, "w")]
    assert m.tokens is not None
    assert m.tokens.total == 1250
    assert m.cache_hit_rate == 0.75


def test_rates_are_derived_from_counts() -> None:
    m = KeyMetrics(
        since=NOW - timedelta(minutes=10),
        until=NOW,
        workspace_id=None,
        executions=dict.fromkeys(ExecutionStatus, 0) | {ExecutionStatus.SUCCEEDED: 3},
        average_duration_s=1.0,
        steps_succeeded=6,
        steps_failed=2,
    )
    assert m.success_rate == 1.0
    assert m.error_rate == 0.25
    assert m.errors_per_minute == 0.2
    assert CacheUsage(hits=0, misses=0).hit_rate is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("24h", NOW - timedelta(hours=24)),
        ("7d", NOW - timedelta(days=7)),
        ("30m", NOW - timedelta(minutes=30)),
        ("2w", NOW - timedelta(weeks=2)),
        ("1d12h", NOW - timedelta(hours=36)),
        ("90s", NOW - timedelta(seconds=90)),
        ("1.5h", NOW - timedelta(minutes=90)),
        ("2026-03-09", datetime(2026, 3, 9, tzinfo=UTC)),
        ("2026-03-10T09:30+02:00", datetime(2026, 3, 10, 7, 30, tzinfo=UTC)),
    ],
)
def test_window_starts(text: str, expected: datetime) -> None:
    assert parse_since(text, now=NOW) == expected


def test_a_date_without_offset_is_in_the_given_zone() -> None:
    start = parse_since("2026-03-10T09:00", now=NOW, timezone="Europe/Paris")
    assert start == datetime(2026, 3, 10, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize("text", ["yesterday", "", "24", "h", "2026-13-01", "0m", "2026-03-11"])
def test_bad_or_empty_windows_are_refused(text: str) -> None:
    with pytest.raises(UsageError):
        parse_since(text, now=NOW)
