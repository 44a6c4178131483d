"""The check a model's plan must pass; its problems go back to the model as text.

A draft passes when it converts to a `Plan` that `plan_problems` finds nothing wrong with, that
stays within the `PlanLimits`, whose paths stay in the workspace, and (for a revision) that
keeps the finished steps. A draft that says it cannot plan passes too: that is an answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan
from baton.core.validation import PlanLimits, limit_problems, path_problems, plan_problems
from baton.errors import PlanProblem
from baton.planning.llm.draft import PlanDraft
from baton.planning.revision import finished_problems


def describe(problem: PlanProblem) -> str:
    """One problem for the model: ``[code] step 'id': message (hint: ...)``."""
    where = f" step {problem.step_id!r}:" if problem.step_id else ""
    hint = f" (hint: {problem.hint})" if problem.hint else ""
    return f"[{problem.code}]{where} {problem.message}{hint}"


def problems_of(plan: Plan, registry: AgentRegistry, limits: PlanLimits) -> list[PlanProblem]:
    """Everything wrong with a planned `plan`: validation, limits, paths."""
    return [
        *plan_problems(plan, registry),
        *limit_problems(plan, limits),
        *path_problems(plan, registry),
    ]


@dataclass(slots=True, kw_only=True)
class DraftCheck:
    """Checks one planning session's drafts (the `check` given to `TextModel.generate`)."""

    registry: AgentRegistry
    """The agents the plan may use."""
    limits: PlanLimits
    """Size and shape bounds."""
    request: str | None
    """The request, recorded on the plan."""
    revising: Plan | None = None
    """The plan being revised, when replanning."""
    finished: Mapping[str, dict[str, Any]] = field(default_factory=dict[str, dict[str, Any]])
    """Finished steps of `revising`, which the revision must keep."""

    def __call__(self, draft: PlanDraft) -> list[str]:
        """The problems of `draft`, as text (empty: accepted)."""
        return [describe(p) for p in self.problems(draft)]

    def problems(self, draft: PlanDraft) -> list[PlanProblem]:
        """The problems of `draft`."""
        if draft.cannot_plan is not None:
            if not draft.steps:
                return []
            return [
                PlanProblem(
                    code="ambiguous_answer",
                    message="the answer has steps and says it cannot plan",
                    hint="either give the steps and no cannot_plan, or no steps",
                )
            ]
        plan, problems = draft.to_plan(request=self.request)
        if plan is None:
            return problems
        problems = problems_of(plan, self.registry, self.limits)
        if self.revising is not None:
            problems += finished_problems(self.revising, plan, self.finished)
        return problems
