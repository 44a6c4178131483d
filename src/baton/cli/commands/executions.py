"""``baton executions list|show|events`` and ``baton cancel``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text

from baton.app import Baton
from baton.cli.serialize import emit_json, event_json, execution_json, step_json
from baton.cli.session import state_of
from baton.cli.tables import events_table, execution_view, executions_table
from baton.events import ExecutionStatus
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent

app = typer.Typer(help="Inspect executions.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="Execution id (ex_...).")]


@app.command("list")
def list_executions(
    ctx: typer.Context,
    status: Annotated[
        ExecutionStatus | None, typer.Option("--status", help="Only executions in this status.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, max=10_000, help="At most N.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """Recent executions, newest first."""
    state = state_of(ctx)

    async def work(b: Baton) -> list[ExecutionRecord]:
        return await b.store.list_executions(limit=limit, status=status)

    records = state.with_baton(work)
    if as_json:
        emit_json([execution_json(r) for r in records])
    elif records:
        state.out.print(executions_table(records))
    else:
        state.out.print(Text("no executions yet", style="dim"))


@app.command("show")
def show_execution(
    ctx: typer.Context, execution_id: IdArgument, as_json: JsonOption = False
) -> None:
    """An execution and its steps: status, attempts, duration, error."""
    state = state_of(ctx)

    async def work(b: Baton) -> tuple[ExecutionRecord, list[StepRecord]]:
        return await b.store.get_execution(execution_id), await b.store.get_steps(execution_id)

    record, steps = state.with_baton(work)
    if as_json:
        emit_json(
            {**execution_json(record, with_plan=True), "steps": [step_json(s) for s in steps]}
        )
    else:
        state.out.print(execution_view(record, steps))


@app.command("events")
def show_events(ctx: typer.Context, execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """The event log of an execution, oldest first."""
    state = state_of(ctx)

    async def work(b: Baton) -> list[StoredEvent]:
        await b.store.get_execution(execution_id)  # NotFoundError rather than an empty log
        return await b.store.events(execution_id)

    events = state.with_baton(work)
    if as_json:
        emit_json([event_json(e) for e in events])
    else:
        state.out.print(events_table(events))


def cancel(ctx: typer.Context, execution_id: IdArgument) -> None:
    """Cancel an execution; the process running it stops within about a second."""
    state = state_of(ctx)

    async def work(b: Baton) -> ExecutionRecord:
        return await b.orchestrator.cancel(execution_id)

    record = state.with_baton(work)
    if record.status is ExecutionStatus.CANCELLED:
        state.out.print(Text.assemble("cancelled execution ", (record.id, "bold")))
    else:
        state.out.print(
            Text.assemble(
                "cancel requested for execution ", (record.id, "bold"),
                " (its runner stops it within about a second)",
            ),
            soft_wrap=True,
        )  # fmt: skip
