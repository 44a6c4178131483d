"""What model calls used, what they cost, and the budget they must stay within."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from baton.errors import BudgetExceededError

# The records live with their store, below every layer that uses them; they are part of
# this module's contract all the same.
from baton.store.model_calls import ModelCall as ModelCall
from baton.store.model_calls import Purpose as Purpose
from baton.store.model_calls import UsageTotals as UsageTotals

__all__ = ["Budget", "ModelCall", "Purpose", "UsageTotals", "check_budget"]


class Budget(BaseModel):
    """Most an execution may spend on models, planning included (None: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(default=None, ge=1)
    """Input plus output tokens, over every call."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    """Estimated cost in US dollars, over every call (calls with no known price count 0)."""


def check_budget(budget: Budget | None, spent: UsageTotals) -> None:
    """Raise `BudgetExceededError` if `spent` has reached `budget` (no more calls may be made)."""
    if budget is None:
        return
    if budget.max_tokens is not None and spent.tokens >= budget.max_tokens:
        raise BudgetExceededError(
            f"the token budget is spent: {spent.tokens:,} of {budget.max_tokens:,} tokens used",
            hint="run again with a larger --max-tokens, or with none",
        )
    if budget.max_cost_usd is not None and spent.cost_usd >= budget.max_cost_usd:
        raise BudgetExceededError(
            f"the cost budget is spent: ${spent.cost_usd:.4f} of ${budget.max_cost_usd:.4f} used",
            hint="run again with a larger --max-cost, or with none",
        )
