"""Planner evaluation: plan every request of an eval set and score the plans.

The eval set ships with baton (``baton/planning/evalset/requests.yaml``), so ``baton eval
planner`` works from an installed wheel as well as from a checkout; ``--set FILE`` scores
another set of the same shape. Requests are planned one after another (a model's rate limits
and a reproducible order matter more than speed), each at the set's fixed `now`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from baton.agents.registry import AgentRegistry
from baton.core.plan import Plan, Step
from baton.errors import BatonError, PlanLoadError
from baton.planning.protocol import Planner, PlanningContext
from baton.planning.scoring import PlanScore, score_plan

PACKAGED_SET = "evalset/requests.yaml"
"""The eval set that ships with baton, inside `baton.planning`."""


class _CaseDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    request: str = Field(min_length=1)
    steps: list[Step] = Field(min_length=1)


class _SetDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: Literal[1] = 1
    now: AwareDatetime
    timezone: str = "UTC"
    requests: list[_CaseDocument] = Field(min_length=1)


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalCase:
    """One request and the plan a careful person would write for it."""

    id: str
    """Short, unique name."""
    request: str
    """The request, in plain language."""
    expected: Plan
    """The careful person's plan."""


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalSet:
    """Requests to plan, at a fixed time."""

    cases: tuple[EvalCase, ...]
    """The requests, in order."""
    now: datetime
    """When every request is planned (relative dates depend on it)."""
    timezone: str
    """The user's time zone."""
    source: str
    """Where the set was read from."""

    @classmethod
    def load(cls, path: Path | None = None) -> EvalSet:
        """Read a set from `path`, or the set that ships with baton.

        Raises:
            PlanLoadError: the file is missing, not YAML, or not an eval set.
        """
        if path is None:
            text = resources.files("baton.planning").joinpath(PACKAGED_SET).read_text("utf-8")
            return cls.parse(text, source=f"baton.planning/{PACKAGED_SET}")
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PlanLoadError(
                f"cannot read the eval set {path}: {exc.strerror or exc}",
                hint="pass an existing YAML file with --set, or leave --set out",
            ) from None
        return cls.parse(text, source=str(path))

    @classmethod
    def parse(cls, text: str, *, source: str) -> EvalSet:
        """Parse an eval set document.

        Raises:
            PlanLoadError: it is not YAML, or not an eval set.
        """
        try:
            raw: Any = yaml.safe_load(text)
            document = _SetDocument.model_validate(raw)
        except yaml.YAMLError as exc:
            raise PlanLoadError(f"the eval set {source} is not valid YAML: {exc}") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "the document"
            raise PlanLoadError(
                f"the eval set {source} is not valid: {where}: {first['msg']} "
                f"({exc.error_count()} problem(s))",
                hint="see baton/planning/evalset/requests.yaml for the shape",
            ) from None
        ids = [c.id for c in document.requests]
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise PlanLoadError(f"the eval set {source} repeats the ids {', '.join(repeated)}")
        cases = tuple(
            EvalCase(
                id=c.id,
                request=c.request,
                expected=Plan(name=c.id, request=c.request, steps=c.steps),
            )
            for c in document.requests
        )
        return cls(cases=cases, now=document.now, timezone=document.timezone, source=source)

    def context(self) -> PlanningContext:
        """The planning context every request is planned in."""
        from zoneinfo import ZoneInfo

        return PlanningContext(
            now=self.now.astimezone(ZoneInfo(self.timezone)), timezone=self.timezone
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CaseResult:
    """How one request was planned and scored."""

    case: EvalCase
    """The request."""
    plan: Plan | None
    """The plan made (None when planning failed)."""
    error: str | None
    """Why planning failed (None when it did not)."""
    score: PlanScore
    """The plan's score."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Totals:
    """The scores of a whole set: exact matches as fractions, partial ones as means."""

    requests: int
    planned: int
    """Requests for which a plan was made."""
    exact: float
    """Share of requests right in all three respects."""
    agents_exact: float
    dependencies_exact: float
    arguments_exact: float
    agents: float
    dependencies: float
    arguments: float


@dataclass(frozen=True, slots=True, kw_only=True)
class EvalReport:
    """Every request's result, and the totals."""

    planner: str
    """The planner's name."""
    source: str
    """Where the eval set came from."""
    results: tuple[CaseResult, ...]
    """One per request, in the set's order."""

    @property
    def totals(self) -> Totals:
        """Fractions and means over every request."""
        n = len(self.results)
        scores = [r.score for r in self.results]

        def share(flags: list[bool]) -> float:
            return sum(flags) / n if n else 0.0

        def mean(values: list[float]) -> float:
            return sum(values) / n if n else 0.0

        return Totals(
            requests=n,
            planned=sum(r.plan is not None for r in self.results),
            exact=share([s.exact for s in scores]),
            agents_exact=share([s.agents_exact for s in scores]),
            dependencies_exact=share([s.dependencies_exact for s in scores]),
            arguments_exact=share([s.arguments_exact for s in scores]),
            agents=mean([s.agents for s in scores]),
            dependencies=mean([s.dependencies for s in scores]),
            arguments=mean([s.arguments for s in scores]),
        )

    def as_json(self) -> dict[str, Any]:
        """The report as JSON-ready data."""
        return {
            "planner": self.planner,
            "set": self.source,
            "totals": _fields(self.totals),
            "results": [
                {
                    "id": r.case.id,
                    "request": r.case.request,
                    "planned": r.plan is not None,
                    "error": r.error,
                    "exact": r.score.exact,
                    **_fields(r.score),
                }
                for r in self.results
            ],
        }


async def evaluate(planner: Planner, eval_set: EvalSet, registry: AgentRegistry) -> EvalReport:
    """Plan every request of `eval_set` with `planner` and score the plans.

    A request the planner refuses or fails on (any `BatonError`: not understood, invalid
    plan, a provider error) scores 0 and its error is kept; anything else is a bug and raises.
    """
    context = eval_set.context()
    results: list[CaseResult] = []
    for case in eval_set.cases:
        try:
            plan = await planner.plan(case.request, registry, context=context)
        except BatonError as exc:
            results.append(
                CaseResult(
                    case=case, plan=None, error=exc.message, score=score_plan(case.expected, None)
                )
            )
            continue
        results.append(
            CaseResult(case=case, plan=plan, error=None, score=score_plan(case.expected, plan))
        )
    return EvalReport(planner=planner.name, source=eval_set.source, results=tuple(results))


def _fields(value: PlanScore | Totals) -> dict[str, Any]:
    return {f.name: getattr(value, f.name) for f in fields(value)}
