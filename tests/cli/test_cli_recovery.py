"""``baton recover``, ``resolve``, ``resume`` and ``executions compact``, in-process."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import anyio

from baton import Baton, Plan, Settings, Step
from baton.events import ExecutionStarted, StepStarted

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]


def crashed(env: dict[str, str]) -> str:
    """An execution left running by a dead process, its non-idempotent step mid-flight."""
    settings = Settings(
        data_dir=Path(env["BATON_DATA_DIR"]),
        workspace=Path(env["BATON_WORKSPACE"]),
        plugins_dir=Path(env["BATON_PLUGINS_DIR"]),
    )

    async def make() -> str:
        async with Baton.open(settings) as b:
            plan = Plan(
                steps=[
                    Step(id="send", agent="t.send", inputs={"text": "hi"}),
                    Step(id="after", agent="t.echo", inputs={"text": "${send.result}!"}),
                ]
            )
            record = await b.orchestrator.create(plan)
            owner = b.orchestrator.executor.options.owner
            await b.store.acquire_lease(record.id, "gone:1:x", ttl_s=-1, take_from=owner)
            await b.store.append(
                [
                    ExecutionStarted(execution_id=record.id, step_count=2),
                    StepStarted(execution_id=record.id, step_id="send", agent="t.send"),
                ]
            )
            return record.id

    return anyio.run(make)


def test_recover_puts_a_non_idempotent_step_in_doubt_and_resolve_finishes_it(
    cli: Cli, baton_env: dict[str, str]
) -> None:
    ex_id = crashed(baton_env)

    recovered = cli("recover")
    assert recovered.exit_code == 1, recovered.output  # it now waits on a person
    shown = cli.json("executions", "show", ex_id, "--json")
    assert shown["status"] == "waiting"
    assert {s["step_id"]: s["status"] for s in shown["steps"]} == {
        "send": "in_doubt",
        "after": "pending",
    }

    done = cli("resolve", ex_id, "send", "--mark-done", "--output", '{"result": "sent hi"}')
    assert done.exit_code == 0, done.output
    shown = cli.json("executions", "show", ex_id, "--json")
    assert shown["status"] == "succeeded"
    after = next(s for s in shown["steps"] if s["step_id"] == "after")
    assert after["output"] == {"result": "sent hi!"}


def test_resolve_refuses_unclear_decisions(cli: Cli, baton_env: dict[str, str]) -> None:
    ex_id = crashed(baton_env)
    assert cli("recover").exit_code == 1
    for args, needle in [
        (["--retry", "--skip"], "exactly one of"),
        ([], "exactly one of"),
        (["--mark-done", "--output", "{nope"], "not valid JSON"),
        (["--mark-done", "--output", "[1]"], "must be a JSON object"),
        (["--retry", "--output", "{}"], "goes with --mark-done"),
    ]:
        result = cli("resolve", ex_id, "send", *args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output
        assert "Traceback" not in result.output
    wrong_step = cli("resolve", ex_id, "after", "--retry")
    assert wrong_step.exit_code == 2
    assert "not in doubt" in wrong_step.output


def test_resume_a_cancelled_execution(cli: Cli, baton_env: dict[str, str]) -> None:
    settings = Settings(
        data_dir=Path(baton_env["BATON_DATA_DIR"]),
        workspace=Path(baton_env["BATON_WORKSPACE"]),
        plugins_dir=Path(baton_env["BATON_PLUGINS_DIR"]),
    )

    async def cancelled() -> str:
        async with Baton.open(settings) as b:
            record = await b.orchestrator.create(
                Plan(steps=[Step(id="a", agent="t.echo", inputs={"text": "x"})])
            )
            await b.orchestrator.cancel(record.id)
            return record.id

    ex_id = anyio.run(cancelled)
    result = cli("resume", ex_id)
    assert result.exit_code == 0, result.output
    assert cli.json("executions", "show", ex_id, "--json")["status"] == "succeeded"
    again = cli("resume", ex_id)
    assert again.exit_code == 2
    assert "already succeeded" in again.output


def test_compaction_keeps_show_and_explains_the_events(cli: Cli, write_plan: WritePlan) -> None:
    plan = write_plan("steps:\n  - {id: a, agent: t.echo, inputs: {text: hi}}\n")
    ex_id = cli.execution_id(cli("run", "--yes", "--plan", str(plan)).output)
    before = cli.json("executions", "show", ex_id, "--json")
    assert len(cli.json("executions", "events", ex_id, "--json")) == 4

    refused = cli("executions", "compact")
    assert refused.exit_code == 2
    assert "BATON_EVENT_RETENTION_DAYS" in refused.output

    done = cli("executions", "compact", "--older-than-days", "0")
    assert done.exit_code == 0, done.output
    assert "compacted 1 execution log(s), 4 event(s)" in done.output
    assert cli.json("executions", "show", ex_id, "--json") == before
    events = cli("executions", "events", ex_id, "--json")
    assert json.loads(events.stdout) == []
    assert "4 event(s) folded into a snapshot" in events.stderr


def test_show_lists_the_recovery_rungs_even_after_compaction(
    cli: Cli, write_plan: WritePlan
) -> None:
    plan = write_plan(
        "steps:\n  - id: f\n    agent: t.flaky\n"
        "    policy: {retry: {max_attempts: 2, initial_delay_s: 0.01}}\n"
    )
    ex_id = cli.execution_id(cli("run", "--yes", "--plan", str(plan)).output)
    shown = cli.json("executions", "show", ex_id, "--json")
    assert shown["status"] == "succeeded"
    assert [r["kind"] for r in shown["recovery"]] == ["step_retrying"]
    assert "the first try fails" in cli("executions", "show", ex_id).output
    assert cli("executions", "compact", ex_id).exit_code == 0
    assert cli.json("executions", "show", ex_id, "--json") == shown
