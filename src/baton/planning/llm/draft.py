"""What the model answers: a plan draft, against whose JSON schema it gives structured output.

The draft is deliberately looser than `baton.core.plan.Plan` (no step-id pattern, no policy
block): a model's mistakes should come back to it as plan problems it can read and fix, not as
schema errors it cannot explain. `to_plan` turns a draft into a `Plan`, and reports what stops
that as problems.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from baton.core.plan import Plan, Provenance, StepPolicy
from baton.errors import PlanProblem
from baton.llm.usage import Budget

_NAME_CHARS = 60


class StepDraft(BaseModel):
    """One step as the model writes it."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="Unique in the plan: letters, digits, '_' and '-'.")
    """Unique in the plan."""
    agent: str = Field(description="The name of one of the agents listed, e.g. files.read.")
    """An agent of the catalogue."""
    inputs: dict[str, Any] = Field(
        default_factory=dict[str, Any],
        description="The agent's inputs, per its input schema; '${step_id.field}' uses "
        "another step's output.",
    )
    """Input values and ``${step.field}`` references."""
    depends_on: list[str] = Field(
        default_factory=list[str],
        description="Steps that must finish first although no input references them.",
    )
    """Order-only dependencies."""
    description: str = Field(default="", description="What the step does, for people.")
    """For people."""
    critical: bool = Field(
        default=False,
        description="True when a person should approve the step before it runs.",
    )
    """Needs a person's approval."""


class PlanDraft(BaseModel):
    """A plan as the model writes it, or its reason for writing none."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(default="", description="A short title for the plan.")
    """Short title."""
    steps: list[StepDraft] = Field(
        default_factory=list[StepDraft], description="The steps; empty only with cannot_plan."
    )
    """The steps."""
    cannot_plan: str | None = Field(
        default=None,
        description="Set (and leave steps empty) only when the listed agents cannot do what "
        "the request asks; say which part and why.",
    )
    """Why the request cannot be planned with these agents (None: it can)."""

    def to_plan(
        self,
        *,
        request: str | None,
        budget: Budget | None = None,
        provenance: Provenance | None = None,
        version: int = 1,
        revised_because: str | None = None,
    ) -> tuple[Plan | None, list[PlanProblem]]:
        """The plan this draft describes, or None and the problems that prevent it."""
        document: dict[str, Any] = {
            "name": self.name.strip() or _name_of(request or ""),
            "request": request,
            "steps": [_step_document(s) for s in self.steps],
            "budget": budget,
            "provenance": provenance,
            "version": version,
            "revised_because": revised_because,
        }
        try:
            return Plan.model_validate(document), []
        except ValidationError as exc:
            return None, [_problem(self, err) for err in exc.errors()]


def _step_document(step: StepDraft) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": step.id,
        "agent": step.agent,
        "inputs": step.inputs,
        "depends_on": step.depends_on,
        "description": step.description,
    }
    if step.critical:
        document["policy"] = StepPolicy(critical=True)
    return document


def _problem(draft: PlanDraft, err: Any) -> PlanProblem:
    loc: tuple[Any, ...] = tuple(err["loc"])
    step_id: str | None = None
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        index: int = loc[1]
        if index < len(draft.steps):
            step_id = draft.steps[index].id
        loc = loc[2:]
    where = ".".join(str(p) for p in loc) or "the plan"
    return PlanProblem(
        code="invalid_step" if step_id is not None else "invalid_plan",
        message=f"{where}: {err['msg']}",
        step_id=step_id,
    )


def _name_of(request: str) -> str:
    line = " ".join(request.split())
    if len(line) <= _NAME_CHARS:
        return line
    return line[:_NAME_CHARS].rsplit(" ", 1)[0] + "..."
