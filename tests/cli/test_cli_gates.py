"""Approval gates end to end through the CLI: a gated step waits; a person decides."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]

GATED = """
steps:
  - {id: draft, agent: t.echo, inputs: {text: hello}}
  - id: send
    agent: t.send
    inputs: {text: "${draft.result}"}
    policy: {critical: true}
  - {id: after, agent: t.echo, inputs: {text: "${send.result}!"}}
  - {id: other, agent: t.echo, inputs: {text: independent}}
"""


def test_a_critical_step_waits_for_approval_then_runs(cli: Cli, write_plan: WritePlan) -> None:
    run = cli("run", "--yes", "--plan", str(write_plan(GATED)))
    assert run.exit_code == 1, run.output  # waiting is not success
    ex_id = cli.execution_id(run.output)
    shown = cli.json("executions", "show", ex_id, "--json")
    assert shown["status"] == "waiting"
    statuses = {s["step_id"]: s["status"] for s in shown["steps"]}
    assert statuses == {
        "draft": "succeeded",
        "send": "awaiting_approval",
        "after": "pending",
        "other": "succeeded",  # independent work goes on
    }
    pending = cli.json("approvals", "list", "--json")
    assert len(pending) == 1
    assert pending[0]["step_id"] == "send"
    assert pending[0]["inputs"] == {"text": "hello"}
    assert "critical" in pending[0]["reason"]

    approved = cli("approve", pending[0]["id"], "--edit-inputs", '{"text": "hello, edited"}')
    assert approved.exit_code == 0, approved.output
    shown = cli.json("executions", "show", ex_id, "--json")
    assert shown["status"] == "succeeded"
    after = next(s for s in shown["steps"] if s["step_id"] == "after")
    assert after["output"] == {"result": "sent hello, edited!"}
    assert cli.json("approvals", "list", "--json") == []


def test_a_rejected_step_fails_and_its_dependents_are_skipped(
    cli: Cli, write_plan: WritePlan
) -> None:
    ex_id = cli.execution_id(cli("run", "--yes", "--plan", str(write_plan(GATED))).output)
    approval = cli.json("approvals", "list", "--json")[0]["id"]
    rejected = cli("reject", approval, "--reason", "not today")
    assert rejected.exit_code == 1  # the execution then fails
    shown = cli.json("executions", "show", ex_id, "--json")
    assert shown["status"] == "failed"
    statuses = {s["step_id"]: s["status"] for s in shown["steps"]}
    assert statuses["send"] == "failed"
    assert statuses["after"] == "skipped"
    again = cli("approve", approval)
    assert again.exit_code == 2  # decided already
