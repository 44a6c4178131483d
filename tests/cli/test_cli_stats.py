"""``baton stats``: the six key metrics of a seeded SQLite database, as text and as JSON.

Step ``a`` of every execution is done by ``text.transform``, a cacheable builtin agent; ex1's
came from the cache, and ex1's step ``a`` made one priced model call.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
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
from baton.store import ExecutionRecord, StepRecord
from baton.store.model_calls import ModelCall
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.model_calls import SqlModelCallStore
from baton.store.sql.schema import create_schema

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

# (id, created this long ago, workspace, final status, seconds it ran, {step: succeeded?})
SEEDS = [
    ("ex1", timedelta(hours=1), "default", ExecutionStatus.SUCCEEDED, 2.0, {"a": True, "b": True}),
    ("ex2", timedelta(hours=2), "default", ExecutionStatus.FAILED, 4.0, {"a": True, "b": False}),
    ("ex3", timedelta(hours=3), "other", ExecutionStatus.SUCCEEDED, 3.0, {"a": True}),
    ("ex4", timedelta(days=3), "default", ExecutionStatus.SUCCEEDED, 100.0, {"a": True}),
]


async def _seed(db_file: Path) -> None:
    now = datetime.now(UTC)
    db = open_database(sqlite_url(db_file))
    try:
        await create_schema(db)
        store = SqlExecutionStore(db)
        for ex, ago, workspace, status, took, steps in SEEDS:
            created = now - ago
            record = ExecutionRecord(
                id=ex,
                name="demo",
                request=None,
                plan={},
                status=ExecutionStatus.PENDING,
                created_at=created,
                workspace_id=workspace,
            )
            rows = [
                StepRecord(execution_id=ex, step_id=s, agent=_agent(s), position=i)
                for i, s in enumerate(steps)
            ]
            await store.create_execution(record, rows)
            end = created + timedelta(seconds=took)
            events: list[RunEvent] = [ExecutionStarted(execution_id=ex, at=created)]
            for step, ok in steps.items():
                events.append(
                    StepStarted(execution_id=ex, step_id=step, agent=_agent(step), at=created)
                )
                if ok:
                    cached = (ex, step) == ("ex1", "a")
                    events.append(
                        StepSucceeded(
                            execution_id=ex, step_id=step, started_at=created, at=end, cached=cached
                        )
                    )
                else:
                    events.append(
                        StepFailed(
                            execution_id=ex,
                            step_id=step,
                            error="boom; token=hunter2",
                            error_type="AgentError",
                            started_at=created,
                            at=end,
                        )
                    )
            events.append(ExecutionFinished(execution_id=ex, status=status, at=end))
            await store.append(events)
        call = ModelCall(
            provider="openai",
            model="gpt-x",
            purpose="agent",
            input_tokens=120,
            output_tokens=30,
            cost_usd=0.0015,
            execution_id="ex1",
            step_id="a",
        )
        await SqlModelCallStore(db).add(call)
    finally:
        await db.dispose()


def _agent(step: str) -> str:
    return "text.transform" if step == "a" else "echo"


@pytest.fixture
def seeded(baton_env: dict[str, str]) -> Path:
    db_file = Path(baton_env["BATON_DATA_DIR"]) / "baton.db"
    db_file.parent.mkdir(parents=True)
    anyio.run(_seed, db_file)
    return db_file


def test_the_last_day_as_text(cli: Cli, seeded: Path) -> None:
    result = cli("stats")
    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines[0].endswith("UTC (24h), every workspace")
    assert lines[1:] == [
        "executions 3 (succeeded 2, failed 1)",
        "success rate 66.7% (2 of 3 finished)",
        "average duration 3.0 s (finished executions)",
        "token usage 150 (120 in, 30 out, $0.0015)",
        "cache hit rate 33.3% (1 of 3 cacheable steps)",
        "error rate 20.0% of steps (1 of 5 failed), 0.000694 errors/min",
    ]
    assert "hunter2" not in result.output


def test_one_workspace(cli: Cli, seeded: Path) -> None:
    data = cli.json("stats", "--workspace", "default", "--json")
    assert data["workspace"] == "default"
    assert data["executions"]["total"] == 2
    assert data["success_rate"] == 0.5
    assert data["average_duration_s"] == pytest.approx(3.0, abs=1e-3)
    assert data["steps"] == {"succeeded": 3, "failed": 1}
    assert data["error_rate"] == 0.25
    assert data["tokens"]["total"] == 150
    assert data["cache_hit_rate"] == 0.5  # ex1's a came from the cache, ex2's did not


def test_a_week_as_json(cli: Cli, seeded: Path) -> None:
    data = cli.json("stats", "--since", "7d", "--json")
    since = datetime.fromisoformat(data.pop("since"))
    until = datetime.fromisoformat(data.pop("until"))
    assert until - since == timedelta(days=7)
    assert data.pop("average_duration_s") == pytest.approx((2 + 4 + 3 + 100) / 4, abs=1e-3)
    assert data.pop("errors_per_minute") == pytest.approx(1 / (7 * 1440))
    assert data == {
        "workspace": None,
        "executions": {
            "total": 4,
            "by_status": {
                "pending": 0,
                "running": 0,
                "waiting": 0,
                "succeeded": 3,
                "failed": 1,
                "cancelled": 0,
            },
        },
        "success_rate": 0.75,
        "finished": 4,
        "tokens": {
            "input": 120,
            "output": 30,
            "total": 150,
            "cost_usd": 0.0015,
            "calls": 1,
            "unpriced_calls": 0,
        },
        "cache_hit_rate": 0.25,
        "error_rate": pytest.approx(1 / 6),
        "steps": {"succeeded": 5, "failed": 1},
    }


def test_an_iso_start(cli: Cli, seeded: Path) -> None:
    start = (datetime.now(UTC) - timedelta(minutes=150)).isoformat()
    data = cli.json("stats", "--since", start, "--json")
    assert data["executions"]["total"] == 2  # ex1 and ex2; ex3 was created 3 h ago


def test_a_fresh_database_has_nothing_to_rate(cli: Cli) -> None:
    data = cli.json("stats", "--json")
    assert data["executions"]["total"] == 0
    assert data["success_rate"] is None
    assert data["average_duration_s"] is None
    assert data["error_rate"] is None
    assert data["tokens"] == {
        "input": 0,
        "output": 0,
        "total": 0,
        "cost_usd": 0.0,
        "calls": 0,
        "unpriced_calls": 0,
    }
    assert data["cache_hit_rate"] is None
    text = " ".join(cli("stats").stdout.split())
    assert "token usage 0 (0 in, 0 out, $0.0000)" in text
    assert "cache hit rate n/a (no step of a cacheable agent succeeded)" in text


def test_a_bad_window_is_a_usage_error(cli: Cli) -> None:
    result = cli("stats", "--since", "yesterday")
    assert result.exit_code == 2
    assert "cannot read 'yesterday' as a time window" in result.output


def test_it_refuses_to_work_on_a_server(cli: Cli) -> None:
    result = cli("stats", env={"BATON_URL": "http://127.0.0.1:9", "BATON_API_KEY": "k"})
    assert result.exit_code == 2
    assert "reads the local database, and BATON_URL is set" in result.output
