"""The planner contract: a request in plain language becomes a `Plan`, or a `PlanningError`.

Every planner (the embedded offline one, the LLM planners) has the same shape, so the
orchestrator can swap them by configuration. A planner never returns a plan it does not trust:
a request it cannot fully map onto registered agents raises `baton.errors.PlanningError` naming
what it understood and what it did not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan
from baton.errors import UsageError


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanningContext:
    """What a planner may use besides the request and the registry."""

    now: datetime
    """The current time, timezone-aware, for relative dates ("next Tuesday")."""
    timezone: str = "UTC"
    """The user's IANA time zone."""

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
