"""``baton plan``: plan only; show the DAG, its critical path and an estimated duration."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.text import Text

from baton.app import Baton
from baton.cli import remote
from baton.cli.render import budget_text, estimate_text, plan_tree
from baton.cli.serialize import emit_json
from baton.cli.session import CliState, state_of
from baton.cli.source import (
    MaxCostOption,
    MaxTokensOption,
    PlanSource,
    read_source,
    resolve_plan,
)
from baton.core.estimate import Estimate, estimate
from baton.core.plan import Plan


def plan(
    ctx: typer.Context,
    request: Annotated[
        str | None,
        typer.Argument(help='What to do, in plain language ("-" reads it from stdin).'),
    ] = None,
    plan_file: Annotated[
        Path | None,
        typer.Option("--plan", metavar="FILE", help="Check a JSON or YAML plan file instead."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the plan document (runs with `run --plan`).")
    ] = False,
    max_tokens: MaxTokensOption = None,
    max_cost: MaxCostOption = None,
) -> None:
    """Plan a request without running it: the steps, the critical path, an estimate.

    --max-tokens and --max-cost put a budget for model calls on the plan (see `--json`).
    """
    state = state_of(ctx)
    source = read_source(request, plan_file, max_tokens=max_tokens, max_cost=max_cost)
    if state.remote:
        state.with_client(lambda c: remote.plan_remote(c, state, source, as_json=as_json))
        return
    planned, est = state.with_baton(lambda b: _plan(b, source, state, quiet=as_json))
    if as_json:
        # exclude_defaults keeps the document as short as one written by hand; it loads back
        # to the same plan because the omitted values are the defaults.
        emit_json(planned.model_dump(mode="json", exclude_defaults=True))
        return
    state.out.print(plan_tree(planned))
    state.out.print(estimate_text(est))
    if planned.budget is not None:
        state.out.print(Text.assemble(("budget: ", "bold"), budget_text(planned.budget)))


async def _plan(
    baton: Baton, source: PlanSource, state: CliState, *, quiet: bool
) -> tuple[Plan, Estimate]:
    planned = await resolve_plan(baton, source, state, quiet=quiet)
    return planned, estimate(planned, baton.registry)
