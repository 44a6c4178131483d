"""``baton approvals list``, ``baton approve`` and ``baton reject``: decide on gated steps."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, Any

import typer
from pydantic_core import to_jsonable_python
from rich.table import Table
from rich.text import Text

from baton.app import Baton
from baton.cli import remote
from baton.cli.commands.recovery import resume_execution
from baton.cli.errors import EXIT_FAILED
from baton.cli.serialize import emit_json
from baton.cli.session import CliState, state_of
from baton.core.executor import ExecutionResult
from baton.errors import NotFoundError, UsageError
from baton.events import ExecutionStatus
from baton.store.approvals import Approval

app = typer.Typer(help="Approval requests of gated steps.", no_args_is_help=True)

IdArgument = Annotated[str, typer.Argument(metavar="ID", help="Approval id (ap_...).")]
NoResumeOption = Annotated[
    bool, typer.Option("--no-resume", help="Only record the decision; don't continue.")
]


def approval_json(approval: Approval) -> dict[str, Any]:
    """An approval as ``--json`` prints it."""
    data: dict[str, Any] = to_jsonable_python(approval)
    return data


def _table(approvals: list[Approval]) -> Table:
    table = Table(show_edge=False)
    for name in ("id", "status", "execution", "step", "agent", "reason", "impact", "expires"):
        table.add_column(name)
    for a in approvals:
        undo = "" if a.impact["reversible"] else " (irreversible)"
        cells = [a.id, a.status.value, a.execution_id, a.step_id, a.agent, a.reason]
        cells += [a.impact["summary"] + undo, f"{a.expires_at:%Y-%m-%d %H:%M:%S}"]
        # Text, not markup: inputs and reasons are user data and may hold brackets.
        table.add_row(*(Text(cell) for cell in cells))
    return table


@app.command("list")
def list_approvals(
    ctx: typer.Context,
    show_all: Annotated[bool, typer.Option("--all", help="Decided ones too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Approval requests waiting for a decision (every one with --all), oldest first."""
    state = state_of(ctx)

    async def work(b: Baton) -> list[Approval]:
        return await b.approvals.list(include_decided=show_all)

    if state.remote:
        found = state.with_client(lambda c: c.approvals(include_decided=show_all))
        if as_json:
            emit_json([a.model_dump(mode="json") for a in found])
            return
        approvals = [remote.approval_record(a) for a in found]
    else:
        approvals = state.with_baton(work)
    if as_json:
        emit_json([approval_json(a) for a in approvals])
    elif approvals:
        state.out.print(_table(approvals))
    else:
        state.out.print(Text("no approval requests waiting", style="dim"))


def approve(
    ctx: typer.Context,
    approval_id: IdArgument,
    edit_inputs: Annotated[
        str | None,
        typer.Option("--edit-inputs", metavar="JSON", help="Run the step with these inputs."),
    ] = None,
    no_resume: NoResumeOption = False,
) -> None:
    """Let a gated step run (with edited inputs, if given), then continue its execution."""
    state = state_of(ctx)
    edited = _inputs(edit_inputs)

    async def work(b: Baton) -> ExecutionResult | None:
        approval = await b.approvals.approve(approval_id, by=_who(), edited_inputs=edited)
        edited_note = " with edited inputs" if approval.edited_inputs is not None else ""
        state.out.print(
            f"approved {approval.id}{edited_note}: step {approval.step_id!r} of "
            f"{approval.execution_id}"
        )
        return None if no_resume else await _continue(b, approval.execution_id, state)

    if state.remote:
        _exit_for(
            state.with_client(
                lambda c: remote.decide(
                    c, state, approval_id, edited_inputs=edited, resume=not no_resume
                )
            )
        )
        return
    _exit_for(state.with_baton(work))


def reject(
    ctx: typer.Context,
    approval_id: IdArgument,
    reason: Annotated[str, typer.Option("--reason", help="Why the step must not run.")],
    no_resume: NoResumeOption = False,
) -> None:
    """Refuse a gated step (the reason is recorded); its execution goes on without it."""
    state = state_of(ctx)

    async def work(b: Baton) -> ExecutionResult | None:
        approval = await b.approvals.reject(approval_id, by=_who(), reason=reason)
        state.out.print(
            f"rejected {approval.id}: step {approval.step_id!r} of {approval.execution_id}"
        )
        return None if no_resume else await _continue(b, approval.execution_id, state)

    if state.remote:
        _exit_for(
            state.with_client(
                lambda c: remote.decide(
                    c, state, approval_id, reject_reason=reason, resume=not no_resume
                )
            )
        )
        return
    _exit_for(state.with_baton(work))


async def _continue(b: Baton, execution_id: str, state: CliState) -> ExecutionResult | None:
    """Resume the execution the decision was about, if it is waiting (and no one runs it)."""
    try:
        record = await b.store.get_execution(execution_id)
    except NotFoundError:  # requested through the service for an execution kept elsewhere
        return None
    if record.status is not ExecutionStatus.WAITING:
        return None
    return await resume_execution(b, execution_id, state)


def _exit_for(result: ExecutionResult | None) -> None:
    if result is not None and not result.ok:
        raise typer.Exit(EXIT_FAILED)


def _inputs(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--edit-inputs is not valid JSON: {exc.msg} at column {exc.colno}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError('--edit-inputs must be a JSON object, e.g. \'{"to": "dana@x.com"}\'')
    return data  # pyright: ignore[reportUnknownVariableType]


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):  # no login name (a container without a passwd entry)
        return "cli"
