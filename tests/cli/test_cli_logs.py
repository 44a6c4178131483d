"""``baton logs search|tail|export|purge`` on the local engine; bad input is a short error."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio
import pytest

from baton.cli.commands import logs as logs_command
from baton.events import utcnow
from baton.store.logs import LogRecord
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.logs import SqlLogStore
from baton.store.sql.schema import create_schema

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]

LOGGING_AGENT = """
import logging
from baton.agents import AgentContext, agent


@agent(name="t.chatty", description="Logs a line at a level.")
async def chatty(ctx: AgentContext, text: str, level: str = "info") -> str:
    ctx.log(f"chatty says {text}", level=level)
    logging.getLogger("baton.plugin.chatty").info("library saw %s", text)
    return text
"""

PLAN = """
steps:
  - {id: talk, agent: t.chatty, inputs: {text: "hello world"}}
  - {id: warn, agent: t.chatty, inputs: {text: "low disk", level: warning}}
  - {id: boom, agent: t.fail, inputs: {message: "kaboom happened"}}
"""


@pytest.fixture
def chatty(baton_env: dict[str, str]) -> None:
    (Path(baton_env["BATON_PLUGINS_DIR"]) / "chatty.py").write_text(LOGGING_AGENT)


@pytest.fixture
def execution(cli: Cli, chatty: None, write_plan: WritePlan) -> str:
    result = cli("run", "-y", "--plan", str(write_plan(PLAN)))
    assert result.exit_code == 1, result.output  # the t.fail step fails
    return cli.execution_id(result.stdout)


def add_records(baton_env: dict[str, str], records: list[LogRecord]) -> None:
    url = sqlite_url(Path(baton_env["BATON_DATA_DIR"]) / "baton.db")

    async def main() -> None:
        db = open_database(url)
        try:
            await create_schema(db)
            await SqlLogStore(db).add(records)
        finally:
            await db.dispose()

    Path(baton_env["BATON_DATA_DIR"]).mkdir(parents=True, exist_ok=True)
    anyio.run(main)


def test_search_finds_agent_engine_and_library_records_of_a_run(cli: Cli, execution: str) -> None:
    found = cli.json("logs", "search", "--json")
    by_message = {r["message"]: r for r in found}

    said = by_message["chatty says hello world"]
    assert (said["execution_id"], said["step_id"], said["level"]) == (execution, "talk", "info")
    assert said["logger"] == "baton.agent.t.chatty"
    assert said["workspace_id"] == "default"
    library = by_message["library saw hello world"]
    assert (library["logger"], library["step_id"]) == ("baton.plugin.chatty", "talk")
    assert by_message["execution started (3 steps)"]["execution_id"] == execution
    failed = next(r for r in found if r["message"].startswith("step boom failed"))
    assert failed["level"] == "error"
    assert "kaboom happened" in failed["message"]
    ids = [r["id"] for r in found]
    assert ids == sorted(ids, reverse=True)


def test_search_filters(cli: Cli, execution: str) -> None:
    def messages(*args: str) -> list[str]:
        return [r["message"] for r in cli.json("logs", "search", "--json", *args)]

    assert messages("chatty says") == ["chatty says low disk", "chatty says hello world"]
    assert messages('"says hello"') == ["chatty says hello world"]
    assert [m[:16] for m in messages("kabo*", "--level", "error")] == [
        "execution failed",
        "step boom failed",
    ]
    assert messages("--level", "warning", "chatty") == ["chatty says low disk"]
    assert messages("chatty", "--execution", "ex_other") == []
    assert len(messages("chatty", "--execution", execution, "--since", "10m")) == 2
    assert messages("chatty", "--since", "2999-01-01") == []
    assert messages("--limit", "1", "--execution", execution)[0].startswith("execution failed")


def test_search_as_a_table(cli: Cli, execution: str) -> None:
    result = cli("logs", "search", "disk")

    assert result.exit_code == 0, result.output
    assert "chatty says low disk" in result.stdout
    assert execution in result.stdout
    assert "warning" in result.stdout
    empty = cli("logs", "search", "nosuchwordanywhere")
    assert "no log records match" in empty.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--level", "loud"], "unknown log level 'loud'"),
        (["search", "x", "--since", "last tuesday"], "--since: cannot read the time"),
        (["search", '"unterminated'], "unterminated phrase"),
        (["search", "!!!"], "no word to search for"),
        (["tail", "--level", "nope"], "unknown log level 'nope'"),
        (["export", "--until", "soonish"], "--until: cannot read the time"),
        (["export", "--format", "xml"], "Invalid value"),
        (["search", "--limit", "0"], "Invalid value"),
    ],
)
def test_bad_input_is_a_short_error(cli: Cli, args: list[str], message: str) -> None:
    result = cli("logs", *args)

    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_export_jsonl_and_csv(cli: Cli, execution: str, tmp_path: Path) -> None:
    jsonl = cli("logs", "export", "--format", "jsonl", "--execution", execution)
    assert jsonl.exit_code == 0, jsonl.output
    lines = [json.loads(line) for line in jsonl.stdout.splitlines()]
    assert lines[0]["message"] == "execution started (3 steps)"
    assert lines[-1]["message"].startswith("execution failed")
    assert {r["execution_id"] for r in lines} == {execution}
    assert f"exported {len(lines)} log record(s)" in jsonl.stderr

    target = tmp_path / "out" / "logs.csv"
    target.parent.mkdir()
    done = cli("logs", "export", "-f", "csv", "-o", str(target), "-q", "chatty", "-l", "warning")
    assert done.exit_code == 0, done.output
    rows = list(csv.DictReader(io.StringIO(target.read_text())))
    assert [r["message"] for r in rows] == ["chatty says low disk"]
    assert rows[0]["level"] == "warning"
    assert json.loads(rows[0]["extra"]) == {}
    assert f"exported 1 log record(s) to {target}" in done.stderr

    unwritable = cli("logs", "export", "-o", str(tmp_path / "missing" / "x.jsonl"))
    assert unwritable.exit_code == 2
    assert "cannot write" in unwritable.stderr


def test_purge_deletes_records_older_than_asked(cli: Cli, baton_env: dict[str, str]) -> None:
    now = utcnow()
    add_records(
        baton_env,
        [
            LogRecord(at=now - timedelta(days=40), level=20, logger="x", message="ancient"),
            LogRecord(at=now - timedelta(days=1), level=20, logger="x", message="yesterday"),
        ],
    )

    result = cli("logs", "purge", "--older-than-days", "30")
    assert result.exit_code == 0, result.output
    assert "purged 1 log record(s)" in result.stdout
    assert [r["message"] for r in cli.json("logs", "search", "--json")] == ["yesterday"]
    default = cli("logs", "purge", env={"BATON_LOG_RETENTION_DAYS": "0.5"})
    assert "purged 1 log record(s)" in default.stdout


def test_logs_commands_work_on_the_local_engine_only(cli: Cli) -> None:
    result = cli(
        "logs", "search", "x", env={"BATON_URL": "http://127.0.0.1:9", "BATON_API_KEY": "k"}
    )

    assert result.exit_code == 2
    assert "local engine only" in result.stderr


def test_tail_follows_new_records_and_ctrl_c_exits_130(
    cli: Cli, baton_env: dict[str, str], chatty: None, write_plan: WritePlan
) -> None:
    add_records(
        baton_env,
        [LogRecord(at=utcnow(), level=20, logger="x", message=f"backlog {i}") for i in range(3)],
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    env |= baton_env | {"PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "logs", "tail", "--json", "--lines", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = [json.loads(proc.stdout.readline())["message"] for _ in range(2)]
        assert first == ["backlog 1", "backlog 2"]
        ran = cli("run", "-y", "--plan", str(write_plan(PLAN)))
        execution = cli.execution_id(ran.stdout)
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while not any(m.startswith("execution failed") for m in seen):
            assert time.monotonic() < deadline, seen
            record = json.loads(proc.stdout.readline())
            assert record["execution_id"] == execution
            seen.append(record["message"])
        assert "chatty says hello world" in seen
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_tail_shows_the_backlog_then_stops_after_n_new_records(
    cli: Cli, baton_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_command, "POLL_S", 0.02)
    add_records(
        baton_env,
        [
            LogRecord(at=utcnow(), level=40, logger="x", message="old error", execution_id="ex_9"),
            LogRecord(at=utcnow(), level=20, logger="x", message="old info"),
        ],
    )

    def later() -> None:
        time.sleep(0.3)
        add_records(
            baton_env,
            [
                LogRecord(at=utcnow(), level=20, logger="x", message="new info"),
                LogRecord(at=utcnow(), level=50, logger="y", message="new critical"),
            ],
        )

    writer = threading.Thread(target=later)
    writer.start()
    try:
        result = cli("logs", "tail", "--level", "error", "--stop-after", "1")
    finally:
        writer.join()

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    assert "ERROR" in lines[0]
    assert "ex_9 x: old error" in lines[0]
    assert "CRITICAL" in lines[1]
    assert lines[1].endswith("y: new critical")


def test_tail_of_an_execution_stops_once_it_has_finished(
    cli: Cli, execution: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(logs_command, "POLL_S", 0.02)
    monkeypatch.setattr(logs_command, "SETTLE_S", 0.1)
    result = cli("logs", "tail", "--execution", execution, "--lines", "100", "--json")
    assert result.exit_code == 0, result.output
    messages = [json.loads(line)["message"] for line in result.stdout.splitlines()]
    assert "chatty says hello world" in messages
    assert any(m.startswith("execution failed") for m in messages), messages


def test_tail_of_an_unknown_execution_says_so(cli: Cli) -> None:
    result = cli("logs", "tail", "--execution", "ex_nope")
    assert result.exit_code != 0
    assert "execution 'ex_nope' not found" in result.stderr
