"""Token usage and cache hit rate of a window: in memory, on SQLite and on PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    RunEvent,
    StepFailed,
    StepStarted,
    StepSucceeded,
)
from baton.observability.key_metrics import CacheUsage, TokenUsage, UsageSource, key_metrics
from baton.observability.key_metrics_scan import scan_key_metrics
from baton.observability.key_usage import SqlUsage
from baton.observability.key_usage_scan import ScanUsage
from baton.store import ExecutionRecord, ExecutionStore, MemoryExecutionStore, StepRecord
from baton.store.model_calls import MemoryModelCallStore, ModelCall, ModelCallStore
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.model_calls import SqlModelCallStore

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
DAY = (NOW - timedelta(hours=24), NOW)
CACHEABLE = ["text.transform"]
PROVENANCE = {
    "planner": "llm",
    "provider": "openai",
    "model": "gpt-x",
    "calls": 2,
    "input_tokens": 100,
    "output_tokens": 50,
    "cost_usd": 0.01,
}

# Step: (agent, succeeded?, cached?, policy.cache)
Steps = dict[str, tuple[str, bool, bool, bool]]
EX1: Steps = {
    "a": ("text.transform", True, False, True),  # a miss (its output mentions "cached")
    "b": ("text.transform", True, True, True),  # a hit
    "c": ("text.transform", True, False, False),  # the plan turned caching off
    "d": ("echo", True, False, True),  # not a cacheable agent
    "e": ("text.transform", False, False, True),  # failed: not counted
}
EX2: Steps = {"a": ("text.transform", True, True, True)}


def _calls(
    ex: str, at: datetime, *rows: tuple[str | None, int, int, float | None]
) -> list[ModelCall]:
    return [
        ModelCall(
            provider="openai",
            model="gpt-x",
            purpose="agent" if step else "plan",
            input_tokens=i,
            output_tokens=o,
            cost_usd=cost,
            execution_id=ex,
            step_id=step,
            at=at,
        )
        for step, i, o, cost in rows
    ]


async def _seed_one(
    store: ExecutionStore,
    ex: str,
    ago: timedelta,
    workspace: str,
    steps: Steps,
    provenance: dict[str, Any] | None,
) -> None:
    created = NOW - ago
    plan: dict[str, Any] = {
        "steps": [
            {"id": s, "agent": agent, "policy": {"cache": allowed}}
            for s, (agent, _, _, allowed) in steps.items()
        ]
    }
    if provenance is not None:
        plan["provenance"] = provenance
    await store.create_execution(
        ExecutionRecord(
            id=ex,
            name="demo",
            request=None,
            plan=plan,
            status=ExecutionStatus.PENDING,
            created_at=created,
            workspace_id=workspace,
        ),
        [
            StepRecord(execution_id=ex, step_id=s, agent=agent, position=i)
            for i, (s, (agent, _, _, _)) in enumerate(steps.items())
        ],
    )
    end = created + timedelta(seconds=2)
    events: list[RunEvent] = [ExecutionStarted(execution_id=ex, at=created)]
    for s, (agent, ok, cached, _) in steps.items():
        events.append(StepStarted(execution_id=ex, step_id=s, agent=agent, at=created))
        if ok:
            output = {"text": "X", "note": {"cached": True}} if s == "a" else {"text": "X"}
            events.append(
                StepSucceeded(execution_id=ex, step_id=s, output=output, cached=cached, at=end)
            )
        else:
            events.append(
                StepFailed(execution_id=ex, step_id=s, error="no", error_type="AgentError", at=end)
            )
    failed = any(not ok for _, ok, _, _ in steps.values())
    status = ExecutionStatus.FAILED if failed else ExecutionStatus.SUCCEEDED
    events.append(ExecutionFinished(execution_id=ex, status=status, at=end))
    await store.append(events)


async def seed(store: ExecutionStore, calls: ModelCallStore) -> None:
    """ex1 (default, 1 h ago, planned by a model), ex2 (other, 2 h), ex3 (default, 3 days)."""
    await _seed_one(store, "ex1", timedelta(hours=1), "default", EX1, PROVENANCE)
    await _seed_one(store, "ex2", timedelta(hours=2), "other", EX2, None)
    await _seed_one(store, "ex3", timedelta(days=3), "default", EX2, PROVENANCE)
    at = NOW - timedelta(minutes=30)
    await calls.add_many(
        _calls(
            "ex1",
            at,
            ("a", 1000, 200, 0.002),
            ("d", 10, 5, None),  # a model with no price
            (None, 100, 50, 0.01),  # planning: counted once, through the provenance
        )
        + _calls("ex2", at, ("a", 7, 3, 0.001))
        + _calls("ex3", NOW - timedelta(days=3), ("a", 5000, 5000, 1.0))
    )


async def usage_source(db: Database | None) -> tuple[UsageSource, ExecutionStore]:
    """A seeded store and the usage source over it, for the backend under test."""
    if db is None:
        store: ExecutionStore = MemoryExecutionStore()
        calls: ModelCallStore = MemoryModelCallStore()
        await seed(store, calls)
        return ScanUsage(store, calls, CACHEABLE), store
    store = SqlExecutionStore(db)
    await seed(store, SqlModelCallStore(db))
    return SqlUsage(db, CACHEABLE), store


async def test_tokens_of_every_workspace(store_database: Database | None) -> None:
    usage, _ = await usage_source(store_database)
    tokens = await usage.token_usage(*DAY, None)
    assert tokens == TokenUsage(
        input_tokens=100 + 1000 + 10 + 7,
        output_tokens=50 + 200 + 5 + 3,
        cost_usd=pytest.approx(0.01 + 0.002 + 0.001),  # type: ignore[arg-type]
        calls=2 + 2 + 1,
        unpriced_calls=1,
    )
    assert tokens is not None
    assert tokens.total == 1117 + 258


async def test_tokens_of_one_workspace(store_database: Database | None) -> None:
    usage, _ = await usage_source(store_database)
    tokens = await usage.token_usage(*DAY, "default")
    assert tokens is not None
    assert (tokens.input_tokens, tokens.output_tokens, tokens.calls) == (1110, 255, 4)
    assert tokens.cost_usd == pytest.approx(0.012)
    other = await usage.token_usage(*DAY, "other")
    assert other is not None
    assert (other.input_tokens, other.output_tokens, other.unpriced_calls) == (7, 3, 0)


async def test_cache_lookups_and_hits(store_database: Database | None) -> None:
    usage, _ = await usage_source(store_database)
    assert await usage.cache_usage(*DAY, None) == CacheUsage(hits=2, misses=1)
    default = await usage.cache_usage(*DAY, "default")
    assert default == CacheUsage(hits=1, misses=1)
    assert default is not None
    assert default.hit_rate == 0.5
    assert await usage.cache_usage(*DAY, "other") == CacheUsage(hits=1, misses=0)


async def test_a_window_without_them(store_database: Database | None) -> None:
    usage, _ = await usage_source(store_database)
    since, until = NOW - timedelta(days=10), NOW - timedelta(days=5)
    assert await usage.token_usage(since, until, None) == TokenUsage(
        input_tokens=0, output_tokens=0, cost_usd=0.0, calls=0, unpriced_calls=0
    )
    cache = await usage.cache_usage(since, until, None)
    assert cache is not None
    assert cache.hit_rate is None


async def test_no_cacheable_agent_means_no_lookups(store_database: Database | None) -> None:
    _, store = await usage_source(store_database)
    if store_database is None:
        calls = MemoryModelCallStore()
        none: UsageSource = ScanUsage(store, calls, [])
    else:
        none = SqlUsage(store_database, [])
    assert await none.cache_usage(*DAY, None) == CacheUsage(hits=0, misses=0)


async def test_a_compacted_log_keeps_its_hits(store_database: Database | None) -> None:
    usage, store = await usage_source(store_database)
    for ex in ("ex1", "ex2"):
        await store.compact(ex)
        assert await store.events(ex) == []
    assert await usage.cache_usage(*DAY, None) == CacheUsage(hits=2, misses=1)


async def test_the_key_metrics_carry_them(store_database: Database | None) -> None:
    usage, store = await usage_source(store_database)
    if store_database is None:
        m = await scan_key_metrics(store, since=DAY[0], until=NOW, usage=usage)
    else:
        m = await key_metrics(store_database, since=DAY[0], until=NOW, usage=usage)
    assert m.tokens is not None
    assert m.tokens.total == 1117 + 258
    assert m.cache_hit_rate == pytest.approx(2 / 3)
    assert m.execution_count == 2
