"""What an execution has spent on language models, and the scope its steps' calls run in.

A plan's `Budget` covers the whole execution, planning included: the plan's provenance (what
planning and replanning cost) counts as spent before any step runs, and the steps' own calls
come from ``ExecutorOptions.usage_of`` (the model-call store). Each attempt of a step gets a
`CallScope` holding the budget and what was spent when it started; the model client checks it
before every call and raises `BudgetExceededError` once it is spent.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from baton.core.plan import Plan
from baton.llm.protocol import CallScope
from baton.llm.usage import UsageTotals

UsageOf = Callable[[str], Awaitable[UsageTotals]]
"""What an execution's steps have spent on models so far, by execution id."""


def planning_spent(plan: Plan) -> UsageTotals:
    """What planning `plan` cost (every revision included), as usage totals."""
    p = plan.provenance
    if p is None:
        return UsageTotals()
    return UsageTotals(
        calls=p.calls,
        input_tokens=p.input_tokens,
        output_tokens=p.output_tokens,
        cost_usd=p.cost_usd,
    )


class ExecutionSpending:
    """Spending of one execution: planning plus its steps' model calls."""

    def __init__(self, execution_id: str, usage_of: UsageOf | None) -> None:
        """Read the steps' spending through `usage_of` (None: nothing is recorded)."""
        self._id = execution_id
        self._usage_of = usage_of

    async def spent(self, plan: Plan) -> UsageTotals:
        """Everything spent so far under `plan`: its planning and the steps' calls."""
        planned = planning_spent(plan)
        if self._usage_of is None:
            return planned
        return planned.merged(await self._usage_of(self._id))

    async def scope(self, plan: Plan, step_id: str) -> CallScope:
        """The scope of one attempt of `step_id`: the plan's budget and what is spent.

        Without a budget the steps' spending is not read (nothing would check it), so a
        plan without one costs no store query per attempt.
        """
        spent = await self.spent(plan) if plan.budget is not None else planning_spent(plan)
        return CallScope(
            purpose="agent",
            execution_id=self._id,
            step_id=step_id,
            budget=plan.budget,
            spent=spent,
        )
