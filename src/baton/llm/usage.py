"""What model calls used, what they cost, and the budget they must stay within."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from baton.errors import BudgetExceededError

Purpose = Literal["plan", "replan", "agent", "check"]
"""Why a model was called: planning, replanning, inside an agent's step, or `baton llm check`."""


class Budget(BaseModel):
    """Most an execution may spend on models, planning included (None: no limit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_tokens: int | None = Field(default=None, ge=1)
    """Input plus output tokens, over every call."""
    max_cost_usd: float | None = Field(default=None, gt=0)
    """Estimated cost in US dollars, over every call (calls with no known price count 0)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelCall:
    """One call to a model, as recorded: who, what for, how much."""

    provider: str
    """``gemini``, ``openai``, ``anthropic`` (a fixed name, never a URL)."""
    model: str
    """E.g. ``gemini-2.5-flash``."""
    purpose: Purpose
    input_tokens: int = 0
    output_tokens: int = 0
    latency_s: float = 0.0
    cost_usd: float | None = None
    """Estimated from the price table; None when the model is not in it."""
    execution_id: str | None = None
    step_id: str | None = None
    """The step whose agent made the call; None for planning."""
    error: str | None = None
    """The error's type name when the call failed (tokens may still have been spent)."""
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


@dataclass(slots=True)
class UsageTotals:
    """Sums over model calls (per step, per execution, per planning session)."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    """Calls whose model has no price in the table (their cost is not in `cost_usd`)."""

    @property
    def tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens

    def add(self, call: ModelCall) -> None:
        """Count `call` in."""
        self.calls += 1
        self.input_tokens += call.input_tokens
        self.output_tokens += call.output_tokens
        if call.cost_usd is None:
            self.unpriced_calls += 1
        else:
            self.cost_usd += call.cost_usd

    def merged(self, other: UsageTotals) -> UsageTotals:
        """Both totals together (neither is changed)."""
        return UsageTotals(
            calls=self.calls + other.calls,
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            unpriced_calls=self.unpriced_calls + other.unpriced_calls,
        )

    @classmethod
    def of(cls, calls: list[ModelCall]) -> UsageTotals:
        """Totals of `calls`."""
        totals = cls()
        for call in calls:
            totals.add(call)
        return totals


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
