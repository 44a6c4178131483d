"""What people allow an execution to spend on models, and what it spent, as they see it.

`budget_of` turns the limits a person gives (``--max-tokens``, ``--max-cost``, or the API's
``max_tokens`` / ``max_cost_usd``) into a `Budget`, refusing nonsense with a clear error;
`with_budget` puts it on a plan. `ExecutionUsage` is an execution's spending for display:
planning (from the plan's provenance, every revision included) and each step's model calls.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from baton.core.budgets import planning_spent
from baton.core.plan import Plan
from baton.errors import UsageError
from baton.llm.usage import Budget, UsageTotals

__all__ = ["ExecutionUsage", "budget_of", "execution_usage", "with_budget"]


def budget_of(
    max_tokens: int | None,
    max_cost_usd: float | None,
    *,
    names: tuple[str, str] = ("--max-tokens", "--max-cost"),
) -> Budget | None:
    """The budget these limits set, or None when neither is given.

    Args:
        max_tokens: Most input plus output tokens over every model call.
        max_cost_usd: Most estimated cost in US dollars over every model call.
        names: How the caller calls the two limits, for the error message.

    Raises:
        UsageError: a limit is not a positive (finite) number.
    """
    tokens_name, cost_name = names
    if max_tokens is not None and (isinstance(max_tokens, bool) or max_tokens < 1):
        raise UsageError(
            f"{tokens_name} must be a positive whole number of tokens, not {max_tokens}",
            hint=f"e.g. {tokens_name} 20000, or leave it out for no token limit",
        )
    if max_cost_usd is not None and not (math.isfinite(max_cost_usd) and max_cost_usd > 0):
        raise UsageError(
            f"{cost_name} must be a positive amount of US dollars, not {max_cost_usd}",
            hint=f"e.g. {cost_name} 0.50, or leave it out for no cost limit",
        )
    if max_tokens is None and max_cost_usd is None:
        return None
    return Budget(max_tokens=max_tokens, max_cost_usd=max_cost_usd)


def with_budget(plan: Plan, budget: Budget | None) -> Plan:
    """`plan` with `budget` on it (a copy); unchanged when `budget` is None.

    A budget given by the person running the plan replaces one written in the plan file.
    """
    return plan if budget is None else plan.model_copy(update={"budget": budget})


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionUsage:
    """An execution's spending on models, for people: planning, each step, the total."""

    planning: UsageTotals = field(default_factory=UsageTotals)
    """What planning the execution's plan cost, every replan included (its provenance)."""
    steps: Mapping[str, UsageTotals] = field(default_factory=dict[str, UsageTotals])
    """What each step's agent spent, by step id (steps that made no call are left out)."""
    plan_version: int = 1
    """1 as planned; each replan adds one."""
    revised_because: str | None = None
    """Why the last replan replaced the plan before it (None for version 1)."""
    planner: str | None = None
    """Who planned it (``offline``, ``llm``, ``file`` ...); None for hand-written plans."""
    model: str | None = None
    """``provider/model`` of the model that planned it, if one did."""
    budget: Budget | None = None
    """The execution's budget, if it has one."""

    @property
    def total(self) -> UsageTotals:
        """Planning and every step together."""
        total = self.planning
        for spent in self.steps.values():
            total = total.merged(spent)
        return total

    @property
    def used_model(self) -> bool:
        """Whether any model call was made for this execution (planning included)."""
        return self.total.calls > 0 or self.total.tokens > 0


def execution_usage(plan: Plan, by_step: Mapping[str | None, UsageTotals]) -> ExecutionUsage:
    """The spending of an execution of `plan`, given its model calls' totals per step.

    Totals under the key None (calls outside any step) are left out: those are planning
    calls, and planning is counted from the plan's provenance, which covers every revision.
    """
    provenance = plan.provenance
    model = None
    if provenance is not None and provenance.provider and provenance.model:
        model = f"{provenance.provider}/{provenance.model}"
    return ExecutionUsage(
        planning=planning_spent(plan),
        steps={k: v for k, v in by_step.items() if k is not None and v.calls},
        plan_version=plan.version,
        revised_because=plan.revised_because,
        planner=provenance.planner if provenance is not None else None,
        model=model,
        budget=plan.budget,
    )
