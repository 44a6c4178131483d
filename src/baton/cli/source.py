"""Where a command's plan comes from: a request to plan, or a plan file written by hand.

Either way it may come with a budget for the execution's model calls (``--max-tokens``,
``--max-cost``), which is put on the plan.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from baton.app import Baton
from baton.cli.session import CliState
from baton.core.plan import Plan
from baton.core.plan_loader import load_plan
from baton.core.spending import budget_of, with_budget
from baton.core.validation import validate_plan
from baton.errors import UsageError
from baton.llm.usage import Budget

OFFLINE_NOTE = (
    "planner: offline (no LLM configured; set GEMINI_API_KEY, OPENAI_API_KEY, "
    "ANTHROPIC_API_KEY or BATON_LLM_BASE_URL to plan with a model, `baton llm check` tests it)"
)
_OFFLINE_NOTED = ".offline-planner-noted"
"""Marker in the data folder: the offline note has been shown there once."""

MaxTokensOption = Annotated[
    int | None,
    typer.Option(
        "--max-tokens",
        metavar="N",
        help="Stop when the execution's model calls (planning included) have used N tokens.",
    ),
]
MaxCostOption = Annotated[
    float | None,
    typer.Option(
        "--max-cost",
        metavar="USD",
        help="Stop when the execution's model calls (planning included) have cost USD dollars.",
    ),
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSource:
    """Exactly one of a request and a loaded (not yet validated) plan."""

    request: str | None = None
    """Plain-language request."""
    plan: Plan | None = None
    """A plan read from a file."""
    budget: Budget | None = None
    """The budget given on the command line (it replaces one in a plan file)."""


def read_source(
    request: str | None,
    plan_file: Path | None,
    *,
    max_tokens: int | None = None,
    max_cost: float | None = None,
) -> PlanSource:
    """Read the plan file or the request (``-`` reads it from stdin), before any event loop.

    Raises:
        UsageError: both or neither were given, or a budget limit is not positive.
        PlanLoadError: the plan file cannot be read or parsed.
    """
    budget = budget_of(max_tokens, max_cost)
    if request is not None and plan_file is not None:
        raise UsageError(
            "give either a request or --plan FILE, not both",
            hint='`baton run "<request>"` plans it; `baton run --plan FILE` runs a plan file',
        )
    if plan_file is not None:
        return PlanSource(plan=load_plan(plan_file), budget=budget)
    if request is None:
        raise UsageError(
            "say what to do",
            hint='`baton run "read notes.txt and summarize it"`, or `--plan FILE`',
        )
    if request == "-":
        request = sys.stdin.read()
    return PlanSource(request=request, budget=budget)


async def resolve_plan(baton: Baton, source: PlanSource, state: CliState, *, quiet: bool) -> Plan:
    """Plan the request, or validate the plan file; either way the plan is ready to run.

    Raises:
        PlanningError: the request could not be planned.
        PlanValidationError: the plan file is wrong.
    """
    if source.plan is not None:
        validate_plan(source.plan, baton.registry)
        return with_budget(source.plan, source.budget)
    if not quiet and baton.planner.name == "offline":
        _note_offline_once(baton, state)
    return await baton.plan(source.request or "", budget=source.budget)


def _note_offline_once(baton: Baton, state: CliState) -> None:
    """Say once per data folder that the offline planner plans (then it is known)."""
    marker = baton.settings.data_dir / _OFFLINE_NOTED
    if marker.exists():
        return
    state.note(OFFLINE_NOTE)
    with contextlib.suppress(OSError):  # a read-only data folder: say it again next time
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
