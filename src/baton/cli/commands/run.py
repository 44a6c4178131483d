"""``baton run``: plan (or load) a plan, confirm, run it live, show the result."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from baton.app import Baton
from baton.cli import remote
from baton.cli.commands.recovery import recover_all
from baton.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED
from baton.cli.live import make_view
from baton.cli.render import plan_tree, result_view
from baton.cli.session import CliState, state_of
from baton.cli.source import (
    MaxCostOption,
    MaxTokensOption,
    PlanSource,
    read_source,
    resolve_plan,
)
from baton.client import BatonClient
from baton.core.executor import ExecutionResult
from baton.core.plan import Plan
from baton.errors import BatonError, UsageError


@dataclass(slots=True)
class _Progress:
    """What the run got to, for the Ctrl-C message."""

    execution_id: str | None = None


def run(
    ctx: typer.Context,
    request: Annotated[
        str | None,
        typer.Argument(help='What to do, in plain language ("-" reads it from stdin).'),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", metavar="FILE", help="Run a JSON or YAML plan file instead."),
    ] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Run without asking.")] = False,
    max_tokens: MaxTokensOption = None,
    max_cost: MaxCostOption = None,
) -> None:
    """Plan a request (or load --plan FILE), confirm, and run it with a live view.

    With BATON_URL set, the server plans and runs it, and the view follows its event stream.
    Exits 0 when the execution succeeded, 1 when it failed or was cancelled, 130 on Ctrl-C
    (running steps are cancelled and the state is saved). --max-tokens and --max-cost set
    the execution's budget for model calls, planning included.
    """
    state = state_of(ctx)
    source = read_source(request, plan_file, max_tokens=max_tokens, max_cost=max_cost)
    progress = _Progress()
    try:
        if state.remote:
            result = _run_remote(state, source, yes, progress)
        elif yes:
            result = state.with_baton(lambda b: _plan_then_execute(b, source, state, progress))
        else:
            plan = state.with_baton(lambda b: _prepare(b, source, state))
            _confirm()
            result = state.with_baton(lambda b: _execute(b, plan, source, state, progress))
    except KeyboardInterrupt:
        if progress.execution_id is None:
            state.err.print(Text("interrupted; nothing was run", style="magenta"))
        else:
            if state.remote:
                _cancel_remote(state, progress.execution_id)
            state.out.print(
                Text.assemble(
                    ("cancelled; state saved, execution ", "magenta"),
                    (progress.execution_id, "bold"),
                )
            )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _run_remote(
    state: CliState, source: PlanSource, yes: bool, progress: _Progress
) -> ExecutionResult:
    """``baton run`` on the server at ``BATON_URL``: the same steps, through the REST API."""
    plan: Plan | None = None
    if not yes:
        shown = state.with_client(lambda c: remote.preview(c, source))
        plan = Plan.model_validate(shown.plan)
        state.out.print(plan_tree(plan))
        _confirm()

    async def work(client: BatonClient) -> ExecutionResult:
        execution_id, planned = await remote.start(client, state, source, plan)
        progress.execution_id = execution_id
        state.note(f"execution {execution_id} on {client.base_url} (Ctrl-C cancels it)")
        state.out.print()
        return await remote.follow(client, state, execution_id, planned)

    return state.with_client(work)


def _cancel_remote(state: CliState, execution_id: str) -> None:
    """After Ctrl-C: cancel the execution on the server, as a local run is cancelled."""
    try:
        state.with_client(lambda c: c.cancel(execution_id))
    except BatonError as exc:  # finished meanwhile, or the server is gone: say so, go on
        state.err.print(Text(f"could not cancel execution {execution_id}: {exc.message}"))


def _interactive() -> bool:
    """Whether someone can answer a prompt (tests replace this)."""
    return sys.stdin.isatty()


def _confirm() -> None:
    if not _interactive():
        raise UsageError(
            "not asking for confirmation: stdin is not a terminal",
            hint="pass --yes (-y) to run without asking",
        )
    try:
        go = typer.confirm("Run this plan?", default=True)
    except typer.Abort:
        raise KeyboardInterrupt from None
    if not go:
        typer.echo("not run")
        raise typer.Exit(EXIT_FAILED)


async def _prepare(baton: Baton, source: PlanSource, state: CliState) -> Plan:
    plan = await resolve_plan(baton, source, state, quiet=False)
    state.out.print(plan_tree(plan))
    return plan


async def _plan_then_execute(
    baton: Baton, source: PlanSource, state: CliState, progress: _Progress
) -> ExecutionResult:
    plan = await _prepare(baton, source, state)
    return await _execute(baton, plan, source, state, progress)


async def _execute(
    baton: Baton, plan: Plan, source: PlanSource, state: CliState, progress: _Progress
) -> ExecutionResult:
    # Executions a dead process left running are taken up first (crash recovery).
    await recover_all(baton, state)
    record = await baton.orchestrator.create(plan, request=source.request)
    progress.execution_id = record.id
    # On stderr, before the live view, so another terminal can `baton cancel` it right away.
    state.note(f"execution {record.id} (Ctrl-C cancels it and saves its state)")
    state.out.print()
    with make_view(state.out, plan) as view:
        result = await baton.orchestrator.execute(record.id, on_event=view.on_event)
    state.out.print()
    state.out.print(result_view(plan, result))
    return result
