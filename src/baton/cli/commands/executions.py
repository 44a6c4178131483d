"""``baton executions list|show|events`` and ``baton cancel``."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.text import Text

from baton.app import Baton
from baton.cli import remote
from baton.cli.serialize import emit_json, event_json, execution_json, step_json, usage_json
from baton.cli.session import state_of
from baton.cli.tables import events_table, execution_view, executions_table
from baton.client import BatonClient
from baton.core.spending import ExecutionUsage
from baton.errors import UsageError
from baton.events import ExecutionStatus, utcnow
from baton.store.compaction import is_cache_hit, recovery_from_snapshot, shown_in_show
from baton.store.records import Checkpoint, ExecutionRecord, StepRecord, StoredEvent

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

    if state.remote:
        records = state.with_client(lambda c: remote.list_executions(c, status, limit))
    else:
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
    """An execution and its steps: status, attempts, duration, error, model tokens and cost."""
    state = state_of(ctx)

    async def work(
        b: Baton,
    ) -> tuple[ExecutionRecord, list[StepRecord], list[StoredEvent], ExecutionUsage]:
        checkpoint = await b.store.checkpoint(execution_id)
        if checkpoint is not None:  # compacted: the snapshot kept the rungs
            recovery = recovery_from_snapshot(checkpoint.snapshot)
        else:
            events = await b.store.events(execution_id)
            recovery = [e for e in events if shown_in_show(e.event)]
        return (
            await b.store.get_execution(execution_id),
            await b.store.get_steps(execution_id),
            recovery,
            await b.usage(execution_id),
        )

    if state.remote:
        record, steps, recovery, usage = state.with_client(
            lambda c: remote.show_execution(c, execution_id)
        )
    else:
        record, steps, recovery, usage = state.with_baton(work)
    if as_json:
        cached = {getattr(e.event, "step_id", "") for e in recovery if is_cache_hit(e.event)}
        emit_json(
            {
                **execution_json(record, with_plan=True),
                "plan_version": usage.plan_version,
                "usage": usage_json(usage),
                "steps": [step_json(s) | {"cached": s.step_id in cached} for s in steps],
                "recovery": [event_json(e) for e in recovery if not is_cache_hit(e.event)],
            }
        )
    else:
        state.out.print(execution_view(record, steps, recovery, usage))


@app.command("events")
def show_events(ctx: typer.Context, execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """The event log of an execution, oldest first."""
    state = state_of(ctx)

    async def work(b: Baton) -> tuple[list[StoredEvent], Checkpoint | None]:
        await b.store.get_execution(execution_id)  # NotFoundError rather than an empty log
        return await b.store.events(execution_id), await b.store.checkpoint(execution_id)

    if state.remote:
        events = state.with_client(lambda c: remote.all_events(c, execution_id))
        checkpoint = None
    else:
        events, checkpoint = state.with_baton(work)
    if checkpoint is not None:
        state.note(
            f"the event log was compacted on {checkpoint.created_at:%Y-%m-%d %H:%M} UTC: "
            f"{checkpoint.event_count} event(s) folded into a snapshot "
            f"(`baton executions show {execution_id}` is unchanged)"
        )
    if as_json:
        emit_json([event_json(e) for e in events])
    else:
        state.out.print(events_table(events))


@app.command("compact")
def compact(
    ctx: typer.Context,
    execution_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="One execution (default: by age).")
    ] = None,
    older_than_days: Annotated[
        float | None,
        typer.Option(
            "--older-than-days",
            min=0,
            help="Executions finished longer ago (default: BATON_EVENT_RETENTION_DAYS).",
        ),
    ] = None,
) -> None:
    """Fold finished executions' event logs into snapshots (rows and `show` are unchanged)."""
    state = state_of(ctx)
    days = older_than_days if older_than_days is not None else state.settings().event_retention_days
    if execution_id is None and days is None:
        raise UsageError(
            "say which event logs to compact",
            hint="pass an execution id, --older-than-days N, or set BATON_EVENT_RETENTION_DAYS",
        )

    async def work(b: Baton) -> list[Checkpoint]:
        if execution_id is not None:
            return [await b.store.compact(execution_id)]
        cutoff = utcnow() - timedelta(days=days or 0)
        done: list[Checkpoint] = []
        for status in (
            ExecutionStatus.SUCCEEDED,
            ExecutionStatus.FAILED,
            ExecutionStatus.CANCELLED,
        ):
            for record in await b.store.list_executions(status=status, limit=100_000):
                if record.finished_at is not None and record.finished_at <= cutoff:
                    done.append(await b.store.compact(record.id))
        return done

    checkpoints = state.with_baton(work)
    folded = sum(c.event_count for c in checkpoints)
    state.out.print(f"compacted {len(checkpoints)} execution log(s), {folded} event(s) in all")


def cancel(ctx: typer.Context, execution_id: IdArgument) -> None:
    """Cancel an execution; the process running it stops within about a second."""
    state = state_of(ctx)

    async def work(b: Baton) -> ExecutionRecord:
        return await b.orchestrator.cancel(execution_id)

    async def on_server(c: BatonClient) -> ExecutionRecord:
        return remote.execution_record(await c.cancel(execution_id))

    record = state.with_client(on_server) if state.remote else state.with_baton(work)
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
