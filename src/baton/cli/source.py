"""Where a command's plan comes from: a request to plan, or a plan file written by hand."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from baton.app import Baton
from baton.cli.session import CliState
from baton.core.plan import Plan
from baton.core.plan_loader import load_plan
from baton.core.validation import validate_plan
from baton.errors import UsageError

OFFLINE_NOTE = "planner: offline (no LLM configured)"


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanSource:
    """Exactly one of a request and a loaded (not yet validated) plan."""

    request: str | None = None
    """Plain-language request."""
    plan: Plan | None = None
    """A plan read from a file."""


def read_source(request: str | None, plan_file: Path | None) -> PlanSource:
    """Read the plan file or the request (``-`` reads it from stdin), before any event loop.

    Raises:
        UsageError: both or neither were given.
        PlanLoadError: the plan file cannot be read or parsed.
    """
    if request is not None and plan_file is not None:
        raise UsageError(
            "give either a request or --plan FILE, not both",
            hint='`baton run "<request>"` plans it; `baton run --plan FILE` runs a plan file',
        )
    if plan_file is not None:
        return PlanSource(plan=load_plan(plan_file))
    if request is None:
        raise UsageError(
            "say what to do",
            hint='`baton run "read notes.txt and summarize it"`, or `--plan FILE`',
        )
    if request == "-":
        request = sys.stdin.read()
    return PlanSource(request=request)


async def resolve_plan(baton: Baton, source: PlanSource, state: CliState, *, quiet: bool) -> Plan:
    """Plan the request, or validate the plan file; either way the plan is ready to run.

    Raises:
        PlanningError: the request could not be planned.
        PlanValidationError: the plan file is wrong.
    """
    if source.plan is not None:
        validate_plan(source.plan, baton.registry)
        return source.plan
    if not quiet and baton.planner.name == "offline":
        state.note(OFFLINE_NOTE)
    return await baton.plan(source.request or "")
