"""Scoring a plan against the plan a careful person would write (pure; no I/O).

Three things are scored, each as an exact match (all right) and a partial match (0 to 1):

- **agents**: the planned agents against the expected ones, as multisets (partial: F1);
- **dependencies**: which step waits for which, directly or through others (partial: F1 over
  the pairs), so a redundant edge costs nothing and chaining parallel branches does;
- **arguments**: each input the expected plan gives, against the same input of the planned
  step matched to it (partial: mean similarity; text by fuzzy ratio, lists as multisets).

Planned steps are matched to expected ones by agent (the closest inputs first, then plan
order); a reference to a planned step is read as a reference to the step it matched, so the
planner's step ids never matter.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rapidfuzz import fuzz

from baton.core.graph import Dag
from baton.core.plan import REFERENCE_PATTERN, Plan, Step

_MISSING: Any = object()
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanScore:
    """How close a planned plan is to the expected one."""

    agents_exact: bool
    """The same agents, as many times each."""
    agents: float
    """F1 of the agents (multisets)."""
    dependencies_exact: bool
    """The same "waits for" pairs."""
    dependencies: float
    """F1 of the "waits for" pairs (1.0 when neither plan has any)."""
    arguments_exact: bool
    """Every expected input given, with the expected value."""
    arguments: float
    """Mean similarity of the expected inputs (0 for a step with no match)."""

    @property
    def exact(self) -> bool:
        """All three exactly right."""
        return self.agents_exact and self.dependencies_exact and self.arguments_exact


NO_PLAN = PlanScore(
    agents_exact=False,
    agents=0.0,
    dependencies_exact=False,
    dependencies=0.0,
    arguments_exact=False,
    arguments=0.0,
)
"""The score of a request the planner could not plan."""


def score_plan(expected: Plan, actual: Plan | None) -> PlanScore:
    """Score `actual` against `expected` (`NO_PLAN` when there is no plan)."""
    if actual is None:
        return NO_PLAN
    matched = match_steps(expected, actual)
    want = Counter(s.agent for s in expected.steps)
    got = Counter(s.agent for s in actual.steps)
    deps_want = waits_for(expected)
    deps_got = {(_rename(a, matched), _rename(b, matched)) for a, b in waits_for(actual)}
    arguments, all_equal = _arguments(expected, actual, matched)
    return PlanScore(
        agents_exact=want == got,
        agents=_f1(sum((want & got).values()), want.total(), got.total()),
        dependencies_exact=deps_want == deps_got,
        dependencies=_f1(len(deps_want & deps_got), len(deps_want), len(deps_got)),
        arguments_exact=all_equal and len(matched) == len(expected.steps),
        arguments=arguments,
    )


def match_steps(expected: Plan, actual: Plan) -> dict[str, str]:
    """Planned step id -> the expected step id it stands for (unmatched steps are left out)."""
    matched: dict[str, str] = {}
    # In dependency order, so that the steps a candidate references are matched already and
    # its references can be compared under the expected names.
    order = Dag.of(expected).topological()
    by_id = {s.id: s for s in expected.steps}
    for want in [by_id[i] for i in order] + [s for s in expected.steps if s.id not in order]:
        candidates = [s for s in actual.steps if s.agent == want.agent and s.id not in matched]
        if not candidates:
            continue
        # max() keeps the first of equals: plan order breaks ties.
        best = max(candidates, key=lambda s: _input_similarity(want, s, matched))
        matched[best.id] = want.id
    return matched


def waits_for(plan: Plan) -> set[tuple[str, str]]:
    """Every (step, step it waits for) pair, directly or through other steps."""
    ids = {s.id for s in plan.steps}
    direct = {s.id: [d for d in s.dependencies() if d in ids] for s in plan.steps}
    pairs: set[tuple[str, str]] = set()
    for start in direct:
        seen: set[str] = set()
        todo = list(direct[start])
        while todo:
            dep = todo.pop()
            if dep in seen:
                continue
            seen.add(dep)
            todo.extend(direct.get(dep, []))
        pairs.update((start, dep) for dep in seen if dep != start)
    return pairs


def similarity(expected: Any, actual: Any) -> float:
    """How alike two input values are, from 0 to 1 (1: equal once normalised)."""
    if actual is _MISSING:
        return 0.0
    e, a = _normal(expected), _normal(actual)
    if e == a:
        return 1.0
    if isinstance(e, str) and isinstance(a, str):
        return fuzz.ratio(e.casefold(), a.casefold()) / 100
    if isinstance(e, list) and isinstance(a, list):
        e_items = Counter(_key(v) for v in e)  # pyright: ignore[reportUnknownVariableType]
        a_items = Counter(_key(v) for v in a)  # pyright: ignore[reportUnknownVariableType]
        if e_items == a_items:
            return 1.0  # the same items in another order
        return _f1(sum((e_items & a_items).values()), e_items.total(), a_items.total())
    if isinstance(e, dict) and isinstance(a, dict):
        ed: dict[str, Any] = e  # pyright: ignore[reportUnknownVariableType]
        ad: dict[str, Any] = a  # pyright: ignore[reportUnknownVariableType]
        keys = ed.keys() | ad.keys()
        return sum(similarity(ed.get(k, _MISSING), ad.get(k, _MISSING)) for k in keys) / len(keys)
    return 0.0


def _arguments(expected: Plan, actual: Plan, matched: Mapping[str, str]) -> tuple[float, bool]:
    by_expected = {want: actual.step(got) for got, want in matched.items()}
    scores: list[float] = []
    for want in expected.steps:
        got = by_expected.get(want.id)
        inputs = _renamed_inputs(got, matched) if got is not None else {}
        if not want.inputs:
            scores.append(1.0 if got is not None else 0.0)
            continue
        scores += [
            similarity(value, inputs.get(name, _MISSING)) if got is not None else 0.0
            for name, value in want.inputs.items()
        ]
    mean = sum(scores) / len(scores) if scores else 1.0
    return mean, all(s == 1.0 for s in scores)


def _renamed_inputs(step: Step, matched: Mapping[str, str]) -> dict[str, Any]:
    def rename(value: Any) -> Any:
        if isinstance(value, str):
            return REFERENCE_PATTERN.sub(
                lambda m: "${" + _rename(m.group(1), matched) + m.group(2) + "}", value
            )
        if isinstance(value, dict):
            items: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
            return {k: rename(v) for k, v in items.items()}
        if isinstance(value, list):
            return [rename(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
        return value

    return {k: rename(v) for k, v in step.inputs.items()}


def _rename(step_id: str, matched: Mapping[str, str]) -> str:
    # An unmatched planned step keeps a name no expected step can have.
    return matched.get(step_id, f"?{step_id}")


def _input_similarity(want: Step, got: Step, matched: Mapping[str, str]) -> float:
    inputs = _renamed_inputs(got, matched)
    return sum(similarity(v, inputs.get(k, _MISSING)) for k, v in want.inputs.items())


def _normal(value: Any) -> Any:
    """Whitespace collapsed, instants in UTC, numbers as numbers: equal values compare equal."""
    if isinstance(value, str):
        text = " ".join(value.split())
        if _ISO.match(text):
            try:
                moment = datetime.fromisoformat(text)
            except ValueError:
                return text
            if moment.tzinfo is not None:
                return moment.astimezone(UTC).isoformat()
            return moment.isoformat()
        return text
    if isinstance(value, dict):
        items: dict[str, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return {k: _normal(v) for k, v in items.items()}
    if isinstance(value, list | tuple):
        return [_normal(v) for v in value]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _f1(hits: int, wanted: int, got: int) -> float:
    if wanted == 0 and got == 0:
        return 1.0
    return 2 * hits / (wanted + got)
