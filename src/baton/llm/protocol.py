"""The contract between the things that use a language model and the client that calls it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel

from baton.llm.usage import Budget, ModelCall, Purpose, UsageTotals

OutputT = TypeVar("OutputT", bound=BaseModel)
T = TypeVar("T")

Check = Callable[[OutputT], Sequence[str]]
"""Checks a structured answer; each string is a problem the model is told to fix (none: good)."""


@dataclass(slots=True, kw_only=True)
class CallScope:
    """Whom a call is made for, and what it may still spend.

    The client checks `budget` against `spent` before each call and adds each call to `spent`
    (so one scope shared by a planning session, or by one step, accumulates).
    """

    purpose: Purpose
    execution_id: str | None = None
    step_id: str | None = None
    budget: Budget | None = None
    spent: UsageTotals = field(default_factory=UsageTotals)
    """What the execution had spent before (and, as calls are made, since)."""


@dataclass(frozen=True, slots=True)
class Generated(Generic[T]):
    """A model's accepted answer and the calls it took to get it."""

    output: T
    calls: tuple[ModelCall, ...]
    """Every call made, failed and rejected attempts included, in order."""
    attempts: int
    """How many answers the model gave until one passed the checks (1 = the first)."""


@runtime_checkable
class TextModel(Protocol):
    """A configured model that answers with text or with a structured (pydantic) value."""

    provider: str
    """``gemini``, ``openai`` or ``anthropic``."""
    model_name: str
    """E.g. ``gemini-2.5-flash``."""

    async def generate(
        self,
        *,
        instructions: str,
        prompt: str,
        output_type: type[OutputT],
        scope: CallScope,
        check: Check[OutputT] | None = None,
        max_attempts: int = 3,
    ) -> Generated[OutputT]:
        """Ask for a value of `output_type` (structured output against its JSON schema).

        An answer that does not parse, or for which `check` returns problems, goes back to
        the model with those problems, up to `max_attempts` answers in all.

        Raises:
            BudgetExceededError: `scope.budget` is spent (checked before every call).
            ModelOutputRejectedError: the last allowed answer still had problems
                (`problems` lists them).
            ModelError: the provider failed after bounded retries with backoff, or refused.
        """
        ...

    async def complete(self, *, instructions: str, prompt: str, scope: CallScope) -> str:
        """Ask for plain text (summaries and the like). Raises as `generate` does."""
        ...
