"""Replanning: when a step fails for good, go on with a revised plan of the remaining work.

The executor asks a `Replanner` (the composition root adapts the planner to it; core does not
import planning) once nothing runs any more and the execution would end failed because of
failed steps. `revise` checks the answer before anything of it runs: it must be a valid plan
that keeps every succeeded step exactly as it was (so those steps' outputs still hold and they
never run again). The plan it returns carries the next version, the reason, the execution's
budget, and the planning cost so far.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan, Provenance
from baton.core.validation import validate_plan
from baton.errors import PlanValidationError, RunError
from baton.llm.usage import UsageTotals

__all__ = ["PlanRevisionError", "Replanner", "Revision", "revise"]


class Replanner(Protocol):
    """Revises a plan whose steps failed, given what has finished and what failed."""

    async def __call__(
        self,
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        spent: UsageTotals,
    ) -> Plan:
        """A revised plan of the remaining work.

        Args:
            plan: The plan that is failing (its current version).
            finished: Outputs of the steps that succeeded, by step id. The revised plan must
                keep these steps unchanged (same id, agent and inputs); later steps may
                reference their outputs.
            failed: Why each failed step failed, by step id.
            reason: Why a revision is asked for, in one line.
            spent: What the execution has spent on models so far, planning included (the
                plan's ``budget`` limits it; replanning counts against it too).

        Returns:
            The revised plan. Its ``provenance`` should count every planning call so far:
            the plan's own plus this revision's (as the planners' ``replan`` does); the
            executor never lets it fall below the plan's. Its ``version``,
            ``revised_because`` and ``budget`` are set by the executor.

        Raises:
            Exception: anything; the execution then fails, naming both the step failure and
                why replanning failed.
        """
        ...


class PlanRevisionError(RunError):
    """A revised plan was refused (invalid, or it changes a step that already succeeded)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision:
    """An accepted revision of an execution's plan."""

    plan: Plan
    """The plan to run from now on (version, reason, budget and provenance set)."""
    added: list[str]
    """Its steps that start afresh: every step but the kept, succeeded ones."""
    removed: list[str]
    """Steps of the old plan that are not in the new one."""


def revise(
    current: Plan,
    proposed: Plan,
    *,
    succeeded: Collection[str],
    reason: str,
    registry: AgentRegistry,
) -> Revision:
    """Check `proposed` against `current` and make it the next version of the plan.

    Raises:
        PlanRevisionError: `proposed` is invalid, or drops or changes a succeeded step.
    """
    try:
        validate_plan(proposed, registry)
    except PlanValidationError as exc:
        problems = exc.message.removeprefix("the plan is ")
        raise PlanRevisionError(f"the revised plan is {problems}") from None
    new_steps = {s.id: s for s in proposed.steps}
    for sid in succeeded:
        old, new = current.step(sid), new_steps.get(sid)
        if new is None:
            raise PlanRevisionError(
                f"the revised plan drops step {sid!r}, which has already succeeded"
            )
        if (new.agent, new.inputs) != (old.agent, old.inputs):
            raise PlanRevisionError(
                f"the revised plan changes step {sid!r}, which has already succeeded "
                "(its agent and inputs must stay as they were)"
            )
    plan = proposed.model_copy(
        update={
            "version": current.version + 1,
            "revised_because": reason,
            "budget": current.budget,
            "provenance": _at_least(proposed.provenance, current.provenance),
        }
    )
    return Revision(
        plan=plan,
        added=[s.id for s in proposed.steps if s.id not in succeeded],
        removed=[s.id for s in current.steps if s.id not in new_steps],
    )


def _at_least(revised: Provenance | None, before: Provenance | None) -> Provenance | None:
    """The revision's provenance, its costs never below what planning had cost before.

    Planning counts against the budget: a revision must not make it look cheaper.
    """
    if before is None or revised is None:
        return revised or before
    return revised.model_copy(
        update={
            "calls": max(before.calls, revised.calls),
            "input_tokens": max(before.input_tokens, revised.input_tokens),
            "output_tokens": max(before.output_tokens, revised.output_tokens),
            "cost_usd": max(before.cost_usd, revised.cost_usd),
        }
    )
