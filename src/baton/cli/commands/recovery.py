"""``baton resume``, ``baton resolve`` and ``baton recover``: carry on after a stop or a crash."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.text import Text

from baton.app import Baton
from baton.cli import remote
from baton.cli.errors import EXIT_FAILED, EXIT_INTERRUPTED
from baton.cli.live import make_view
from baton.cli.render import result_view
from baton.cli.session import CliState, state_of
from baton.core.executor import ExecutionResult
from baton.core.orchestrator import Decision
from baton.core.plan import Plan
from baton.errors import UsageError
from baton.events import ExecutionStatus


def resume(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution to continue.")],
) -> None:
    """Continue an execution that was cancelled, waits on a decision, or was left running.

    Steps that succeeded are not run again. Exits 0 when it then succeeds, 1 otherwise.
    """
    state = state_of(ctx)
    try:
        result = (
            state.with_client(lambda c: remote.resume_remote(c, state, execution_id))
            if state.remote
            else state.with_baton(lambda b: resume_execution(b, execution_id, state))
        )
    except KeyboardInterrupt:
        state.out.print(Text(f"cancelled; state saved, execution {execution_id}", "magenta"))
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not result.ok:
        raise typer.Exit(EXIT_FAILED)


async def resume_execution(baton: Baton, execution_id: str, state: CliState) -> ExecutionResult:
    """Continue an execution with the live view, then show the result."""
    record = await baton.store.get_execution(execution_id)
    plan = Plan.model_validate(record.plan)
    known = {s.step_id: s.status for s in await baton.store.get_steps(execution_id)}
    state.note(f"resuming execution {execution_id} ({record.status.value})")
    with make_view(state.out, plan, known) as view:
        result = await baton.orchestrator.execute(execution_id, on_event=view.on_event)
    state.out.print()
    state.out.print(result_view(plan, result))
    if result.status is ExecutionStatus.WAITING:
        state.note(
            f"decide about each step in doubt with `baton resolve {execution_id} STEP "
            "--retry | --skip | --mark-done --output JSON`"
        )
    return result


def resolve(
    ctx: typer.Context,
    execution_id: Annotated[str, typer.Argument(help="The execution waiting on a decision.")],
    step_id: Annotated[str, typer.Argument(help="The step in doubt.")],
    retry: Annotated[bool, typer.Option("--retry", help="Run the step again.")] = False,
    skip: Annotated[bool, typer.Option("--skip", help="Give the step up.")] = False,
    mark_done: Annotated[
        bool, typer.Option("--mark-done", help="Record that it did happen (with --output).")
    ] = False,
    abort: Annotated[bool, typer.Option("--abort", help="Give up the whole execution.")] = False,
    output: Annotated[
        str | None, typer.Option("--output", metavar="JSON", help="The step's output.")
    ] = None,
    no_resume: Annotated[
        bool, typer.Option("--no-resume", help="Only record the decision; don't continue.")
    ] = False,
) -> None:
    """Decide about a step in doubt, then continue the execution.

    A step is in doubt when it was running as its process died and its agent is not
    idempotent: only a person can tell whether it had its effect.
    """
    state = state_of(ctx)
    decision = _decision(retry, skip, mark_done, abort)
    data = _output(output, decision)

    async def work(baton: Baton) -> ExecutionResult | None:
        await baton.orchestrator.resolve(execution_id, step_id, decision, output=data)
        state.note(f"recorded: {decision} for step {step_id!r}")
        if no_resume or decision == "abort":
            return None
        return await resume_execution(baton, execution_id, state)

    result = state.with_baton(work)
    if result is not None and not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _decision(retry: bool, skip: bool, mark_done: bool, abort: bool) -> Decision:
    options: list[tuple[Decision, bool]] = [
        ("retry", retry),
        ("skip", skip),
        ("mark-done", mark_done),
        ("abort", abort),
    ]
    chosen: list[Decision] = [d for d, on in options if on]
    if len(chosen) != 1:
        raise UsageError(
            "choose exactly one of --retry, --skip, --mark-done and --abort",
            hint="--retry runs the step again; --skip gives it up; --mark-done says it "
            "happened; --abort cancels the whole execution",
        )
    return chosen[0]


def _output(text: str | None, decision: Decision) -> dict[str, Any] | None:
    if text is None:
        return None
    if decision != "mark-done":
        raise UsageError("--output goes with --mark-done only")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"--output is not valid JSON: {exc.msg} at column {exc.colno}") from None
    if not isinstance(data, dict):
        raise UsageError('--output must be a JSON object, e.g. \'{"result": "sent"}\'')
    return data  # pyright: ignore[reportUnknownVariableType]


def recover(ctx: typer.Context) -> None:
    """Take up every execution left running by a process that died, and run them on."""
    state = state_of(ctx)
    results = state.with_baton(lambda b: recover_all(b, state))
    if any(not r.ok for r in results):
        raise typer.Exit(EXIT_FAILED)


async def recover_all(baton: Baton, state: CliState) -> list[ExecutionResult]:
    """Resume orphaned executions, printing one line for each (used by `run` too)."""
    results = await baton.recover()
    for r in results:
        state.note(f"recovered execution {r.execution_id}: {r.status.value}")
    return results
