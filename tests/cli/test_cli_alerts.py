"""``baton alerts [--all] [--json]`` and ``baton alerts check``, in-process."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from baton import Baton, Settings
from baton.events import ExecutionFinished, ExecutionStarted, ExecutionStatus, utcnow
from baton.store.records import ExecutionRecord, StepRecord

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        data_dir=Path(env["BATON_DATA_DIR"]),
        workspace=Path(env["BATON_WORKSPACE"]),
        plugins_dir=Path(env["BATON_PLUGINS_DIR"]),
    )


def running_for(env: dict[str, str], ex_id: str, seconds: float) -> None:
    """An execution in the database that started `seconds` ago and is still running."""

    async def make() -> None:
        async with Baton.open(settings_of(env), discover_plugins=False) as b:
            record = ExecutionRecord(
                id=ex_id,
                name="slow plan",
                request=None,
                plan={},
                status=ExecutionStatus.PENDING,
                created_at=utcnow(),
            )
            await b.store.create_execution(
                record, [StepRecord(execution_id=ex_id, step_id="a", agent="x", position=0)]
            )
            started = utcnow() - timedelta(seconds=seconds)
            await b.store.append([ExecutionStarted(execution_id=ex_id, at=started)])

    anyio.run(make)


def finish(env: dict[str, str], ex_id: str) -> None:
    async def end() -> None:
        async with Baton.open(settings_of(env), discover_plugins=False) as b:
            await b.store.append([ExecutionFinished(execution_id=ex_id)])

    anyio.run(end)


def test_nothing_firing(cli: Cli) -> None:
    result = cli("alerts")
    assert result.exit_code == 0, result.output
    assert "no alerts firing" in result.stdout
    assert cli.json("alerts", "--json") == []


def test_check_fires_then_resolves_a_long_running_execution(
    cli: Cli, baton_env: dict[str, str]
) -> None:
    running_for(baton_env, "ex_slow", 400)
    running_for(baton_env, "ex_fresh", 10)

    result = cli("alerts", "check")
    assert result.exit_code == 0, result.output
    assert "fired long_running ex_slow: execution ex_slow ('slow plan') has been running" in (
        result.stdout
    )
    assert "ex_fresh" not in result.stdout

    listed = cli.json("alerts", "--json")
    assert [(a["rule"], a["key"], a["firing"]) for a in listed] == [
        ("long_running", "ex_slow", True)
    ]
    table = cli("alerts")
    assert "long_running" in table.stdout
    assert "ex_slow" in table.stdout

    again = cli.json("alerts", "check", "--json")  # still running: nothing new
    assert (again["fired"], again["resolved"]) == ([], [])
    assert [a["key"] for a in again["firing"]] == ["ex_slow"]

    finish(baton_env, "ex_slow")
    done = cli("alerts", "check")
    assert done.exit_code == 0, done.output
    assert "resolved long_running ex_slow" in done.stdout
    assert "no alerts firing" in done.stdout

    assert cli.json("alerts", "--json") == []
    history = cli.json("alerts", "--all", "--json")
    assert [(a["key"], a["firing"]) for a in history] == [("ex_slow", False)]
    assert history[0]["resolved_at"] is not None
    assert "ex_slow" in cli("alerts", "--all").stdout


def test_check_skips_the_rules_about_its_own_process(cli: Cli) -> None:
    # Any process is over 0.01% of its memory: a server would fire, a one-off check must not.
    result = cli("alerts", "check", "--json", env={"BATON_ALERT_MEMORY_FRACTION": "0.0001"})
    assert result.exit_code == 0, result.output
    assert '"fired": []' in result.stdout


def test_thresholds_come_from_the_environment(cli: Cli, baton_env: dict[str, str]) -> None:
    running_for(baton_env, "ex_1", 60)
    assert cli.json("alerts", "check", "--json")["fired"] == []

    shorter = {"BATON_ALERT_LONG_RUNNING_S": "30"}
    result = cli("alerts", "check", "--json", env=shorter)
    assert result.exit_code == 0, result.output
    assert '"key": "ex_1"' in result.stdout
    disabled = {**shorter, "BATON_ALERT_DISABLED": '["long_running"]'}
    assert cli.json("alerts", "--json")[0]["key"] == "ex_1"
    assert cli("alerts", "check", env=disabled).exit_code == 0
    assert cli.json("alerts", "--json")[0]["key"] == "ex_1"  # left alone, not resolved


def test_bad_settings_and_a_server_url_are_refused(cli: Cli) -> None:
    bad = cli("alerts", env={"BATON_ALERT_MEMORY_FRACTION": "2"})
    assert bad.exit_code == 2
    assert "BATON_ALERT_MEMORY_FRACTION" in bad.output
    remote = cli("alerts", env={"BATON_URL": "http://127.0.0.1:9", "BATON_API_KEY": "k"})
    assert remote.exit_code == 2
    assert "local engine only" in remote.output
