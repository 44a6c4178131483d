"""The planner contract: a request in plain language becomes a `Plan`, or a `PlanningError`.

Every planner (the embedded offline one, the LLM planners) has the same shape, so the
orchestrator can swap them by configuration. A planner never returns a plan it does not trust:
a request it cannot fully map onto registered agents raises `baton.errors.PlanningError` naming
what it understood and what it did not.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan
from baton.errors import UsageError
from baton.llm.usage import Budget, UsageTotals


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanningContext:
    """What a planner may use besides the request and the registry."""

    now: datetime
    """The current time, timezone-aware, for relative dates ("next Tuesday")."""
    timezone: str = "UTC"
    """The user's IANA time zone."""
    budget: Budget | None = None
    """Most the execution may spend on models; planning counts against it."""
    spent: UsageTotals | None = None
    """What the execution has already spent on models (when replanning); never changed."""

    def __post_init__(self) -> None:
        # A naive `now` would make "tomorrow at 9" mean different instants on different hosts.
        if self.now.tzinfo is None or self.now.utcoffset() is None:
            raise UsageError(
                "PlanningContext.now must be timezone-aware",
                hint="pass e.g. datetime.now(ZoneInfo('Europe/London'))",
            )


@runtime_checkable
class Planner(Protocol):
    """Turns a plain-language request into a plan over the agents of a registry."""

    name: str
    """Short name shown to users, e.g. ``offline`` or ``gemini``."""

    async def plan(
        self, request: str, registry: AgentRegistry, *, context: PlanningContext
    ) -> Plan:
        """Plan `request` with the agents in `registry`.

        Raises:
            PlanningError: the request is empty, too long, or not fully understood.
        """
        ...


@runtime_checkable
class Replanner(Protocol):
    """Revises a plan whose step failed beyond its retries (the plan-level "alternative")."""

    async def replan(
        self,
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        registry: AgentRegistry,
        context: PlanningContext,
    ) -> Plan:
        """A revision of `plan` for the remaining work.

        Args:
            plan: The plan being executed (its latest version).
            finished: Outputs of the steps that succeeded, by step id; the revision keeps these
                steps exactly (same id, agent and inputs) and may reference their outputs.
            failed: The error message of each step that failed beyond its retries, by step id.
            reason: Why a revision is asked for; recorded as `Plan.revised_because`.
            registry: The agents the revision may use.
            context: Time, time zone and the execution's budget and spending.

        Returns:
            A validated plan with ``version = plan.version + 1``.

        Raises:
            PlanningError: no acceptable revision could be made.
            BudgetExceededError: the budget was spent before a revision was accepted.
        """
        ...
