"""``baton traces show ID``: the span tree of an execution, with durations and statuses."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text
from rich.tree import Tree

from baton.app import Baton
from baton.cli.serialize import emit_json
from baton.cli.session import state_of
from baton.observability.tracing_view import trace_out
from baton.store.traces import SpanNode, SpanRecord, span_tree

app = typer.Typer(
    help="Inspect the traces (OpenTelemetry spans) of executions.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
IdArgument = Annotated[str, typer.Argument(metavar="ID", help="Execution id (ex_...).")]

# Attributes worth a glance in the tree, in this order.
_SHOWN = ("baton.agent", "baton.attempt", "baton.event_count", "gen_ai.request.model")


@app.command("show")
def show(ctx: typer.Context, execution_id: IdArgument, as_json: JsonOption = False) -> None:
    """The spans of an execution as a tree: name, duration, status and events."""
    state = state_of(ctx)

    async def work(b: Baton) -> list[SpanRecord]:
        from baton.store.sql.database import open_database
        from baton.store.sql.traces import SqlTraceStore

        await b.store.get_execution(execution_id)  # NotFoundError rather than an empty tree
        # The spans are in the database whatever process made them: read them there.
        db = open_database(
            b.settings.resolved_database_url,
            busy_timeout_s=b.settings.database_busy_timeout_s,
        )
        try:
            return await SqlTraceStore(db).spans(execution_id)
        finally:
            await db.dispose()

    spans = state.with_baton(work)
    if as_json:
        emit_json(trace_out(execution_id, spans).model_dump(mode="json"))
    elif spans:
        state.out.print(trace_tree(execution_id, spans))
    else:
        state.note(
            f"no spans were kept for {execution_id} "
            "(tracing is on by default: check BATON_TRACING and BATON_TRACE_DB)"
        )


def trace_tree(execution_id: str, spans: list[SpanRecord]) -> Tree:
    """A Rich tree of the spans (a resumed execution has one root per run)."""
    tree = Tree(Text.assemble(("trace of ", "dim"), (execution_id, "bold")))
    parents: list[Tree] = [tree]
    for node in span_tree(spans):
        del parents[node.depth + 1 :]
        parents.append(parents[-1].add(_label(node)))
    return tree


def _label(node: SpanNode) -> Text:
    span = node.span
    text = Text.assemble((span.name, "bold" if node.depth == 0 else ""), "  ")
    text.append(fmt_span_duration(span.duration_s), style="cyan")
    if span.status == "error":
        text.append("  error", style="bold red")
        if span.status_message:
            text.append(f" ({span.status_message})", style="red")
    shown = [f"{k.rsplit('.', 1)[-1]}={span.attributes[k]}" for k in _SHOWN if k in span.attributes]
    if shown:
        text.append("  " + " ".join(shown), style="dim")
    if span.events:
        names = ", ".join(e.name for e in span.events)
        text.append(f"  [{len(span.events)} event(s): {names}]", style="yellow")
    return text


def fmt_span_duration(seconds: float) -> str:
    """``420 µs``, ``3.25 ms``, ``1.20 s``, ``2 m 05 s``."""
    if seconds < 0.001:
        return f"{seconds * 1e6:.0f} µs"
    if seconds < 1:
        return f"{seconds * 1000:.2f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, secs = divmod(round(seconds), 60)
    return f"{minutes} m {secs:02d} s"
