"""Model calls: the record of each call to a language model, and the store that keeps them.

`ModelCall` and `UsageTotals` are defined here, under every layer that uses them (the
language-model client in `baton.llm`, the planner, the executor, the CLI): `baton.llm.usage`
re-exports them with the `Budget` they are checked against.

The SQL implementation is `baton.store.sql.model_calls.SqlModelCallStore`; every
implementation passes ``tests/store/test_model_call_store.py``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, Protocol

__all__ = [
    "MemoryModelCallStore",
    "ModelCall",
    "ModelCallStore",
    "Purpose",
    "UsageTotals",
    "totals_by_step",
]

Purpose = Literal["plan", "replan", "agent", "check"]
"""Why a model was called: planning, replanning, inside an agent's step, or `baton llm check`."""


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


def totals_by_step(calls: Sequence[ModelCall]) -> dict[str | None, UsageTotals]:
    """Totals of `calls` per step (None: planning and other calls outside any step)."""
    found: dict[str | None, UsageTotals] = {}
    for call in calls:
        found.setdefault(call.step_id, UsageTotals()).add(call)
    return found


class ModelCallStore(Protocol):
    """Where model calls are kept, by execution (calls outside any execution are not)."""

    async def add(self, call: ModelCall) -> None:
        """Keep `call` (it must have an ``execution_id``)."""
        ...

    async def add_many(self, calls: Sequence[ModelCall]) -> None:
        """Keep `calls` in one go (each must have an ``execution_id``).

        Raises:
            ValueError: a call has no ``execution_id``.
        """
        ...

    async def for_execution(self, execution_id: str) -> list[ModelCall]:
        """The execution's calls, in the order they were added."""
        ...

    async def totals(self, execution_id: str, step_id: str | None = None) -> UsageTotals:
        """Totals of the execution's calls, or of one step's when `step_id` is given."""
        ...

    async def totals_by_step(self, execution_id: str) -> dict[str | None, UsageTotals]:
        """The execution's totals per step (key None: planning and calls outside steps)."""
        ...


def check_calls(calls: Sequence[ModelCall]) -> None:
    """Refuse calls a store cannot file under an execution."""
    for call in calls:
        if call.execution_id is None:
            raise ValueError(f"a {call.purpose} call to {call.model} has no execution_id")


class MemoryModelCallStore:
    """`ModelCallStore` in this process's memory."""

    def __init__(self) -> None:
        """Start empty."""
        self._calls: dict[str, list[ModelCall]] = {}

    async def add(self, call: ModelCall) -> None:
        """See `ModelCallStore.add`."""
        await self.add_many([call])

    async def add_many(self, calls: Sequence[ModelCall]) -> None:
        """See `ModelCallStore.add_many`."""
        check_calls(calls)
        for call in calls:
            assert call.execution_id is not None
            self._calls.setdefault(call.execution_id, []).append(call)

    async def for_execution(self, execution_id: str) -> list[ModelCall]:
        """See `ModelCallStore.for_execution`."""
        return list(self._calls.get(execution_id, []))

    async def totals(self, execution_id: str, step_id: str | None = None) -> UsageTotals:
        """See `ModelCallStore.totals`."""
        calls = self._calls.get(execution_id, [])
        if step_id is not None:
            calls = [c for c in calls if c.step_id == step_id]
        return UsageTotals.of(calls)

    async def totals_by_step(self, execution_id: str) -> dict[str | None, UsageTotals]:
        """See `ModelCallStore.totals_by_step`."""
        return totals_by_step(self._calls.get(execution_id, []))
