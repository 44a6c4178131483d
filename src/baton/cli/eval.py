"""``baton eval planner``: plan every request of the eval set and score the plans."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.table import Table
from rich.text import Text

from baton.app import Baton
from baton.cli.serialize import emit_json
from baton.cli.session import state_of
from baton.planning.evaluation import EvalReport, EvalSet, evaluate
from baton.planning.offline import OfflinePlanner
from baton.planning.protocol import Planner

app = typer.Typer(help="Measure how well baton does its work.", no_args_is_help=True)


class PlannerChoice(StrEnum):
    """Which planner `baton eval planner` measures."""

    OFFLINE = "offline"
    """The embedded planner, with no model."""
    CONFIGURED = "configured"
    """The planner baton uses: the LLM planner when a model is configured."""


@app.command("planner")
def eval_planner(
    ctx: typer.Context,
    set_path: Annotated[
        Path | None,
        typer.Option(
            "--set",
            metavar="FILE",
            help="An eval set (YAML); default: the set that ships with baton.",
        ),
    ] = None,
    planner: Annotated[
        PlannerChoice, typer.Option("--planner", help="The planner to measure.")
    ] = PlannerChoice.CONFIGURED,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Plan each request of the eval set and score agents, dependencies and arguments."""
    state = state_of(ctx)
    eval_set = EvalSet.load(set_path)

    async def work(b: Baton) -> EvalReport:
        chosen: Planner = OfflinePlanner() if planner is PlannerChoice.OFFLINE else b.planner
        if not as_json:
            state.note(
                f"planning {len(eval_set.cases)} requests with the {chosen.name} planner "
                f"({eval_set.source})"
            )
        return await evaluate(chosen, eval_set, b.registry)

    report = state.with_baton(work)
    if as_json:
        emit_json(report.as_json())
        return
    state.out.print(report_view(report))


def report_view(report: EvalReport) -> Group:
    """The per-request table and the totals."""
    table = Table(box=None, header_style="bold", pad_edge=False)
    table.add_column("request", no_wrap=True, overflow="ellipsis", max_width=36)
    for column in ("agents", "deps", "args"):
        table.add_column(column, justify="right", no_wrap=True, min_width=6)
    table.add_column("note", overflow="fold", ratio=1)
    for r in report.results:
        s = r.score
        table.add_row(
            Text(r.case.id, style="green" if s.exact else ""),
            _cell(s.agents_exact, s.agents),
            _cell(s.dependencies_exact, s.dependencies),
            _cell(s.arguments_exact, s.arguments),
            Text(r.error.splitlines()[0], style="red") if r.error else Text(""),
        )
    t = report.totals
    n = t.requests
    table.add_section()
    table.add_row(
        Text("exact", style="bold"),
        f"{round(t.agents_exact * n)}/{n}",
        f"{round(t.dependencies_exact * n)}/{n}",
        f"{round(t.arguments_exact * n)}/{n}",
        f"all three: {round(t.exact * n)}/{n} ({t.exact:.0%})",
    )
    table.add_row(
        Text("partial", style="bold"),
        f"{t.agents:.3f}",
        f"{t.dependencies:.3f}",
        f"{t.arguments:.3f}",
        f"planned {t.planned}/{n}",
    )
    title = Text.assemble(
        ("planner ", "dim"), (report.planner, "bold"), (" on ", "dim"), report.source
    )
    return Group(title, table)


def _cell(exact: bool, partial: float) -> Text:
    if exact:
        return Text("exact", style="green")
    return Text(f"{partial:.2f}", style="yellow" if partial >= 0.5 else "red")
