"""Read commands: agents, executions, events; text and ``--json``."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from baton.cli import app, main

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]

ONE_STEP = "steps:\n  - {id: only, agent: t.echo, inputs: {text: hi}}\n"
FAILING = "steps:\n  - {id: only, agent: t.fail}\n"


def test_agents_list_json_has_builtins_and_plugins(cli: Cli) -> None:
    agents = {a["name"]: a for a in cli.json("agents", "list", "--json")}

    assert agents["files.read"]["source"] == "builtin"
    assert agents["files.read"]["risk"] == "read"
    assert agents["text.summarize"]["idempotent"] is True
    assert agents["t.echo"]["source"].startswith("plugin:")
    assert agents["t.echo"]["stats"]["runs"] == 0
    assert set(agents["t.echo"]) >= {"name", "description", "risk", "idempotent", "source"}


def test_agents_list_table(cli: Cli) -> None:
    result = cli("agents", "list")

    assert result.exit_code == 0, result.output
    assert "files.read" in result.stdout
    assert "plugin:testagents.py" in result.stdout  # the folder is in `agents show`


def test_a_dropped_plugin_file_is_listed(cli: Cli, baton_env: dict[str, str]) -> None:
    plugins = Path(baton_env["BATON_PLUGINS_DIR"])
    (plugins / "greeter.py").write_text(
        "from baton.agents import agent\n\n"
        "@agent(name='greet.hello', description='Say hello to someone.')\n"
        "async def hello(name: str) -> str:\n"
        "    return f'hello {name}'\n"
    )

    names = [a["name"] for a in cli.json("agents", "list", "--json")]

    assert "greet.hello" in names


def test_broken_plugins_warn_once_without_failing(cli: Cli, baton_env: dict[str, str]) -> None:
    (Path(baton_env["BATON_PLUGINS_DIR"]) / "broken.py").write_text("def oops(:\n")

    result = cli("agents", "list", "--json")

    assert result.exit_code == 0
    assert result.stderr.count("warning:") == 1
    assert "broken.py" in result.stderr
    assert "SyntaxError" in result.stderr
    assert "warning" not in result.stdout  # the JSON stays clean
    assert "t.echo" in result.stdout  # the good plugin still loads


def test_agents_show(cli: Cli) -> None:
    shown = cli.json("agents", "show", "files.read", "--json")
    assert shown["name"] == "files.read"
    assert "path" in shown["input_schema"]["properties"]
    assert "content" in shown["output_schema"]["properties"]
    assert shown["examples"]

    text = cli("agents", "show", "t.echo")
    assert text.exit_code == 0, text.output
    assert "inputs (JSON schema)" in text.stdout
    assert "plugin:" in text.stdout


def test_agent_stats_come_from_history(cli: Cli, write_plan: WritePlan) -> None:
    assert cli("run", "-y", "--plan", str(write_plan(ONE_STEP))).exit_code == 0

    stats = cli.json("agents", "show", "t.echo", "--json")["stats"]

    assert stats["runs"] == 1
    assert stats["mean_duration_s"] is not None


def test_executions_list_filters_and_limits(cli: Cli, write_plan: WritePlan) -> None:
    assert cli("executions", "list").stdout.strip() == "no executions yet"
    ok = cli.execution_id(cli("run", "-y", "--plan", str(write_plan(ONE_STEP))).stdout)
    bad = cli.execution_id(cli("run", "-y", "--plan", str(write_plan(FAILING, "f.yaml"))).stdout)

    assert [e["id"] for e in cli.json("executions", "list", "--json")] == [bad, ok]
    assert [e["id"] for e in cli.json("executions", "list", "--json", "--limit", "1")] == [bad]
    failed = cli.json("executions", "list", "--json", "--status", "failed")
    assert [(e["id"], e["status"]) for e in failed] == [(bad, "failed")]
    assert "plan" not in failed[0]  # listings stay small; `show` has the plan

    table = cli("executions", "list").stdout
    assert ok in table
    assert "succeeded" in table


def test_executions_show_and_events_as_text(cli: Cli, write_plan: WritePlan) -> None:
    ex = cli.execution_id(cli("run", "-y", "--plan", str(write_plan(FAILING))).stdout)

    shown = cli("executions", "show", ex)
    assert shown.exit_code == 0, shown.output
    assert re.search(r"only\s+t\.fail\s+✗ failed\s+1\s", shown.stdout), shown.stdout
    assert "boom" in shown.stdout

    events = cli("executions", "events", ex)
    assert events.exit_code == 0, events.output
    for kind in ("execution_started", "step_started", "step_failed", "execution_finished"):
        assert kind in events.stdout


def test_version(cli: Cli) -> None:
    result = cli("--version")

    assert result.exit_code == 0
    assert result.stdout.startswith("baton ")


def test_public_surface() -> None:
    import baton.cli

    assert baton.cli.__all__ == ["app", "main"]
    assert callable(main)
    assert app.info.name == "baton"


def test_markup_in_data_is_printed_literally(cli: Cli, write_plan: WritePlan) -> None:
    plan = (
        "name: '[bold]x[/]'\n"
        "steps:\n  - {id: a, agent: t.fail, inputs: {message: '[/red] oops [x'}}\n"
    )

    ran = cli("run", "-y", "--plan", str(write_plan(plan)))
    assert ran.exit_code == 1, ran.output
    assert "[/red] oops [x" in ran.stdout
    ex = cli.execution_id(ran.stdout)
    for args in (["executions", "show", ex], ["executions", "events", ex], ["executions", "list"]):
        result = cli(*args)
        assert result.exit_code == 0, result.output
        assert "[/red] oops [x" in result.stdout or "[bold]x[/]" in result.stdout
