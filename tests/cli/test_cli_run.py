"""``baton run`` and ``baton plan``, in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from baton.cli.commands import run as run_module
from baton.core.plan import Plan

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]

CHAIN = """
name: chain
steps:
  - id: first
    agent: t.echo
    inputs: {text: hello}
  - id: second
    agent: t.echo
    inputs: {text: "${first.result} world"}
"""

BRANCHES = """
name: branches
steps:
  - {id: ok, agent: t.echo, inputs: {text: fine}}
  - {id: ok_after, agent: t.echo, inputs: {text: "${ok.result}!"}}
  - {id: broken, agent: t.fail, inputs: {message: the disk is on fire}}
  - {id: after_broken, agent: t.echo, inputs: {text: never}, depends_on: [broken]}
"""

REQUEST = "read notes.txt and summarize it"


def test_plan_file_runs_and_is_recorded(cli: Cli, write_plan: WritePlan) -> None:
    result = cli("run", "--yes", "--plan", str(write_plan(CHAIN)))

    assert result.exit_code == 0, result.output
    assert "hello world" in result.stdout  # the output of the last step
    assert "succeeded" in result.stdout
    ex = cli.execution_id(result.stdout)

    shown = cli.json("executions", "show", ex, "--json")
    assert shown["id"] == ex
    assert shown["status"] == "succeeded"
    assert shown["plan"]["name"] == "chain"
    assert [(s["step_id"], s["status"], s["attempts"]) for s in shown["steps"]] == [
        ("first", "succeeded", 1),
        ("second", "succeeded", 1),
    ]
    assert shown["steps"][1]["output"] == {"result": "hello world"}

    events = cli.json("executions", "events", ex, "--json")
    kinds = [e["kind"] for e in events]
    assert kinds[0] == "execution_started"
    assert kinds[-1] == "execution_finished"
    assert kinds.count("step_succeeded") == 2
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert all(e["execution_id"] == ex for e in events)


def test_failed_step_skips_dependents_but_not_the_independent_branch(
    cli: Cli, write_plan: WritePlan
) -> None:
    result = cli("run", "-y", "--plan", str(write_plan(BRANCHES)))

    assert result.exit_code == 1, result.output
    assert "the disk is on fire" in result.stdout
    assert "Traceback" not in result.output
    shown = cli.json("executions", "show", cli.execution_id(result.stdout), "--json")
    assert shown["status"] == "failed"
    assert {s["step_id"]: s["status"] for s in shown["steps"]} == {
        "ok": "succeeded",
        "ok_after": "succeeded",
        "broken": "failed",
        "after_broken": "skipped",
    }


def test_run_a_request_with_the_builtin_agents(cli: Cli) -> None:
    result = cli("run", "-y", REQUEST)

    assert result.exit_code == 0, result.output
    assert "planner: offline (no LLM configured" in result.stderr
    assert "files.read" in result.stdout  # the plan tree
    assert "Baton turns requests into plans" in result.stdout  # the summary
    listed = cli.json("executions", "list", "--json")
    assert [(e["id"], e["request"]) for e in listed] == [(cli.execution_id(result.stdout), REQUEST)]
    again = cli("plan", REQUEST)
    assert again.exit_code == 0, again.output
    assert "planner: offline" not in again.stderr  # said once per data folder


def test_run_without_a_terminal_refuses_unless_told_yes(cli: Cli, write_plan: WritePlan) -> None:
    result = cli("run", "--plan", str(write_plan(CHAIN)))

    assert result.exit_code == 2
    assert "--yes" in result.stderr
    assert cli.json("executions", "list", "--json") == []


@pytest.mark.parametrize(("answer", "code"), [("y\n", 0), ("n\n", 1)])
def test_run_asks_for_confirmation_on_a_terminal(
    cli: Cli, write_plan: WritePlan, monkeypatch: pytest.MonkeyPatch, answer: str, code: int
) -> None:
    monkeypatch.setattr(run_module, "_interactive", lambda: True)

    result = cli("run", "--plan", str(write_plan(CHAIN)), input=answer)

    assert result.exit_code == code, result.output
    assert "Run this plan?" in result.stdout
    assert len(cli.json("executions", "list", "--json")) == (1 if code == 0 else 0)


def test_request_can_come_from_stdin(cli: Cli) -> None:
    result = cli("plan", "--json", "-", input=REQUEST)

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["request"] == REQUEST


def test_plan_json_round_trips_through_run(cli: Cli, tmp_path: Path) -> None:
    planned = cli("plan", "--json", REQUEST)

    assert planned.exit_code == 0, planned.output
    document = json.loads(planned.stdout)
    assert "planner:" not in planned.stdout  # notes stay out of machine-readable output
    assert Plan.model_validate(document).steps[0].agent == "files.read"
    path = tmp_path / "planned.json"
    path.write_text(json.dumps(document))

    again = cli.json("plan", "--json", "--plan", str(path))
    assert again == document
    ran = cli("run", "-y", "--plan", str(path))
    assert ran.exit_code == 0, ran.output


def test_plan_shows_the_tree_critical_path_and_an_estimate(cli: Cli, write_plan: WritePlan) -> None:
    path = str(write_plan(CHAIN))

    before = cli("plan", "--plan", path)
    assert before.exit_code == 0, before.output
    assert "first" in before.stdout
    assert "after first" in before.stdout
    assert "critical path: first -> second" in before.stdout
    assert "estimate: no history" in before.stdout

    assert cli("run", "-y", "--plan", path).exit_code == 0
    after = cli("plan", "--plan", path)
    assert "from past runs" in after.stdout


def test_request_and_plan_file_together_are_refused(cli: Cli, write_plan: WritePlan) -> None:
    result = cli("run", "-y", "--plan", str(write_plan(CHAIN)), REQUEST)

    assert result.exit_code == 2
    assert "not both" in result.stderr
