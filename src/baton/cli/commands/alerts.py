"""``baton alerts [--all] [--json]`` and ``baton alerts check``: the alerts of the database.

``baton serve`` evaluates the alert rules every ``BATON_ALERT_INTERVAL_S``; these commands
read what it found, or evaluate the rules once now (useful without a server). They work on
the local engine only (not through ``BATON_URL``).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from baton.app import Baton
from baton.cli.serialize import emit_json
from baton.cli.session import CliState, state_of
from baton.observability.alerts import Tick, alert_json
from baton.store.alerts import Alert, Severity

app = typer.Typer(
    help="Alerts: conditions the alert rules found (firing until they clear).",
    invoke_without_command=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]

_STYLE = {Severity.CRITICAL: "bold red", Severity.WARNING: "yellow"}


def _when(alert: Alert) -> str:
    return f"{alert.fired_at:%Y-%m-%d %H:%M:%S}"


def _table(alerts: list[Alert], *, with_resolved: bool) -> Table:
    table = Table(show_edge=False)
    columns = ["severity", "rule", "key", "workspace", "fired", "message"]
    if with_resolved:
        columns.insert(5, "resolved")
    for name in columns:
        table.add_column(name)
    for a in alerts:
        cells = [
            Text(a.severity.value, style=_STYLE.get(a.severity, "")),
            Text(a.rule),
            Text(a.key),
            Text(a.workspace_id or "(all)"),
            Text(_when(a)),
            Text(a.message),
        ]
        if with_resolved:
            resolved = "firing" if a.resolved_at is None else f"{a.resolved_at:%Y-%m-%d %H:%M:%S}"
            cells.insert(5, Text(resolved, style="bold" if a.firing else "dim"))
        table.add_row(*cells)
    return table


def _show(state: CliState, alerts: list[Alert], *, with_resolved: bool) -> None:
    if alerts:
        state.out.print(_table(alerts, with_resolved=with_resolved))
    else:
        state.out.print(Text("no alerts firing", style="dim"))


@app.callback()
def alerts(
    ctx: typer.Context,
    show_all: Annotated[
        bool, typer.Option("--all", help="Recently resolved alerts too (newest first).")
    ] = False,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """Alerts firing now, newest first (resolved ones too with --all)."""
    if ctx.invoked_subcommand is not None:
        return
    state = state_of(ctx)

    async def work(b: Baton) -> list[Alert]:
        return await b.alerts.list(include_resolved=show_all, limit=limit)

    found = state.with_baton(work)
    if as_json:
        emit_json([alert_json(a) for a in found])
    else:
        _show(state, found, with_resolved=show_all)


@app.command("check")
def check(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Evaluate the alert rules once now; print what fired, resolved, and is firing.

    The rules about one process (memory) are the server's to evaluate, and are skipped.
    """
    state = state_of(ctx)

    async def work(b: Baton) -> Tick:
        return await b.alerts.check(process_rules=False)

    tick = state.with_baton(work)
    if as_json:
        emit_json(
            {
                "fired": [alert_json(a) for a in tick.fired],
                "resolved": [alert_json(a) for a in tick.resolved],
                "firing": [alert_json(a) for a in tick.firing],
            }
        )
        return
    for a in tick.fired:
        state.out.print(Text.assemble(("fired ", "bold"), f"{a.rule} {a.key}: {a.message}"))
    for a in tick.resolved:
        state.out.print(Text.assemble(("resolved ", "bold"), f"{a.rule} {a.key}"))
    if not tick.fired and not tick.resolved:
        state.note("nothing changed")
    _show(state, tick.firing, with_resolved=False)
