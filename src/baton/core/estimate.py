"""How long a plan should take: its critical path under the agents' mean durations."""

from __future__ import annotations

from dataclasses import dataclass

from baton.agents.registry import AgentRegistry
from baton.core.graph import Dag
from baton.core.plan import Plan

__all__ = ["DEFAULT_STEP_S", "Estimate", "estimate"]

DEFAULT_STEP_S = 1.0
"""Duration assumed for a step whose agent has no history (the executor assumes the same)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Estimate:
    """How long a plan should take, from the agents' mean durations."""

    path: list[str]
    """Step ids of the critical path, first to last."""
    total_s: float
    """Duration of the critical path."""
    steps_with_history: int
    """Steps whose agent has a mean duration on record."""
    steps: int
    """Steps in the plan."""


def estimate(plan: Plan, registry: AgentRegistry) -> Estimate:
    """Critical path and duration, assuming `DEFAULT_STEP_S` for agents with no history."""
    known: dict[str, float] = {}
    for step in plan.steps:
        mean = registry.stats(step.agent).mean_duration_s if step.agent in registry else None
        if mean is not None:
            known[step.id] = mean
    path, total = Dag.of(plan).critical_path(lambda sid: known.get(sid, DEFAULT_STEP_S))
    return Estimate(path=path, total_s=total, steps_with_history=len(known), steps=len(plan.steps))
