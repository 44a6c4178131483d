"""``baton cache stats|clear|purge`` on a seeded SQLite database."""

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
    StepStarted,
    StepSucceeded,
)
from baton.store import ExecutionRecord, StepRecord
from baton.store.result_cache import CacheEntry
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.result_cache import SqlResultCacheStore
from baton.store.sql.schema import create_schema

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

# (key, workspace, agent, expired?, hits)
SEEDS = [
    ("k1", "default", "text.upper", False, 3),
    ("k2", "default", "text.upper", False, 0),
    ("k3", "default", "data.sort", False, 1),
    ("k4", "default", "data.sort", True, 0),
    ("k5", "other", "text.upper", True, 5),
]


async def _seed(db_file: Path) -> None:
    now = datetime.now(UTC)
    db = open_database(sqlite_url(db_file))
    try:
        await create_schema(db)
        store = SqlResultCacheStore(db)
        for key, workspace, agent, expired, hits in SEEDS:
            ends = now + (timedelta(hours=-1) if expired else timedelta(hours=1))
            entry = CacheEntry(
                workspace_id=workspace,
                agent=agent,
                output={"text": key},
                created_at=now - timedelta(hours=2),
                expires_at=ends,
                hits=hits,
            )
            await store.put(key, entry)
    finally:
        await db.dispose()


@pytest.fixture
def seeded(baton_env: dict[str, str]) -> Path:
    db_file = Path(baton_env["BATON_DATA_DIR"]) / "baton.db"
    db_file.parent.mkdir(parents=True)
    anyio.run(_seed, db_file)
    return db_file


def test_stats_as_text_and_json(cli: Cli, seeded: Path) -> None:
    result = cli("cache", "stats")

    assert result.exit_code == 0, result.output
    lines = [" ".join(line.split()) for line in result.stdout.splitlines()]
    assert lines == [
        "cache of workspace default: 4 entries, 4 hit(s)",
        "agent entries hits",
        "data.sort 2 1",
        "text.upper 2 3",
    ]
    assert cli.json("cache", "stats", "--workspace", "other", "--json") == {
        "workspace": "other",
        "entries": 1,
        "hits": 5,
        "agents": {"text.upper": {"entries": 1, "hits": 5}},
    }


def test_stats_of_an_empty_cache(cli: Cli) -> None:
    result = cli("cache", "stats")

    assert result.exit_code == 0, result.output
    assert "0 entries, 0 hit(s)" in result.stdout
    assert "nothing cached yet" in result.stdout


def test_clear_one_agent_then_the_rest(cli: Cli, seeded: Path) -> None:
    assert cli.json("cache", "clear", "--agent", "data.sort", "--json") == {
        "workspace": "default",
        "agent": "data.sort",
        "removed": 2,
    }
    result = cli("cache", "clear")
    assert result.exit_code == 0, result.output
    assert "removed 2 cached output(s): all in workspace default" in result.stdout
    assert cli.json("cache", "stats", "--json")["entries"] == 0
    assert cli.json("cache", "stats", "--workspace", "other", "--json")["entries"] == 1


def test_purge_drops_expired_entries_of_every_workspace(cli: Cli, seeded: Path) -> None:
    result = cli("cache", "purge")

    assert result.exit_code == 0, result.output
    assert "purged 2 expired cached output(s)" in result.stdout
    assert cli.json("cache", "purge", "--json") == {"removed": 0}
    assert cli.json("cache", "stats", "--json")["entries"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("cache", "clear", "--agent", " "), "--agent needs an agent's name"),
        (("cache", "stats", "--workspace", ""), "--workspace must not be empty"),
    ],
)
def test_bad_input_is_a_clear_error(cli: Cli, args: tuple[str, ...], message: str) -> None:
    result = cli(*args)

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_remote_baton_is_refused(cli: Cli) -> None:
    result = cli("cache", "stats", env={"BATON_URL": "http://127.0.0.1:9", "BATON_API_KEY": "x"})

    assert result.exit_code != 0
    assert "BATON_URL is set" in result.output


async def _seed_execution(db_file: Path) -> None:
    now = datetime.now(UTC)
    db = open_database(sqlite_url(db_file))
    try:
        await create_schema(db)
        store = SqlExecutionStore(db)
        record = ExecutionRecord(
            id="ex_hit",
            name="demo",
            request=None,
            plan={},
            status=ExecutionStatus.PENDING,
            created_at=now,
        )
        rows = [
            StepRecord(execution_id="ex_hit", step_id=s, agent="text.upper", position=i)
            for i, s in enumerate(("fresh", "reused"))
        ]
        await store.create_execution(record, rows)
        events: list[RunEvent] = [ExecutionStarted(execution_id="ex_hit", step_count=2)]
        for step in ("fresh", "reused"):
            events += [
                StepStarted(execution_id="ex_hit", step_id=step, agent="text.upper"),
                StepSucceeded(
                    execution_id="ex_hit", step_id=step, output={}, cached=step == "reused"
                ),
            ]
        events.append(ExecutionFinished(execution_id="ex_hit"))
        await store.append(events)
    finally:
        await db.dispose()


@pytest.fixture
def with_a_cache_hit(baton_env: dict[str, str]) -> None:
    db_file = Path(baton_env["BATON_DATA_DIR"]) / "baton.db"
    db_file.parent.mkdir(parents=True)
    anyio.run(_seed_execution, db_file)


def test_executions_show_marks_the_step_the_cache_answered(
    cli: Cli, with_a_cache_hit: None
) -> None:
    result = cli("executions", "show", "ex_hit")

    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert "succeeded (cached)" in rows["reused"]
    assert "cached" not in rows["fresh"]
    assert "recovery" not in result.stdout  # a hit is no recovery rung
    data = cli.json("executions", "show", "ex_hit", "--json")
    assert {s["step_id"]: s["cached"] for s in data["steps"]} == {"fresh": False, "reused": True}
    assert data["recovery"] == []


def test_the_mark_survives_compaction(cli: Cli, with_a_cache_hit: None) -> None:
    compacted = cli("executions", "compact", "ex_hit")
    assert compacted.exit_code == 0, compacted.output

    data = cli.json("executions", "show", "ex_hit", "--json")

    assert {s["step_id"]: s["cached"] for s in data["steps"]} == {"fresh": False, "reused": True}


def test_the_event_log_says_which_success_came_from_the_cache(
    cli: Cli, with_a_cache_hit: None
) -> None:
    result = cli("executions", "events", "ex_hit")

    assert result.exit_code == 0, result.output
    successes = [line for line in result.stdout.splitlines() if "step_succeeded" in line]
    assert [", cached" in line for line in successes] == [False, True]
