"""The offline planner over corpus.yaml, with the real built-in agents and a fixed clock."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from baton.agents import AgentRegistry
from baton.agents.builtin import AgentResources, builtin_agents
from baton.core.plan import Plan
from baton.core.validation import validate_plan
from baton.errors import PlanningError
from baton.planning import OfflinePlanner, PlanningContext
from baton.store.calendar import MemoryCalendarStore

CORPUS: dict[str, list[dict[str, Any]]] = yaml.safe_load(
    (Path(__file__).parent / "corpus.yaml").read_text(encoding="utf-8")
)
TZ = "Europe/London"


def cases(kind: str) -> list[Any]:
    return [
        pytest.param(entry, id=entry["request"][:60].strip() or "blank") for entry in CORPUS[kind]
    ]


@pytest.fixture
def registry(tmp_path: Path) -> AgentRegistry:
    reg = AgentRegistry()
    resources = AgentResources(workspace=tmp_path, calendar=MemoryCalendarStore(), timezone=TZ)
    reg.register_all(builtin_agents(resources), source="builtin")
    return reg


@pytest.fixture
def context() -> PlanningContext:
    return PlanningContext(now=datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(TZ)), timezone=TZ)


def test_corpus_is_big_and_covers_every_agent_group() -> None:
    assert len(CORPUS["plans"]) >= 30
    assert len(CORPUS["refusals"]) >= 6
    groups = {s["agent"].split(".")[0] for e in CORPUS["plans"] for s in e["steps"]}
    assert groups >= {"files", "http", "text", "data", "calendar", "notify"}
    assert all(1 <= len(e["steps"]) <= 4 for e in CORPUS["plans"])


def shape(plan: Plan, expected: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The plan in the corpus's terms: only the inputs the corpus names, dependencies as sets."""
    got: list[dict[str, Any]] = []
    for step, want in zip(plan.steps, expected, strict=False):
        got.append(
            {
                "id": step.id,
                "agent": step.agent,
                "inputs": {k: step.inputs.get(k, "<missing>") for k in want["inputs"]},
                "after": sorted(step.dependencies()),
            }
        )
    got += [{"id": s.id, "agent": s.agent, "extra": True} for s in plan.steps[len(expected) :]]
    return got


@pytest.mark.parametrize("entry", cases("plans"))
def test_plans(entry: dict[str, Any], registry: AgentRegistry, context: PlanningContext) -> None:
    plan = OfflinePlanner().plan_now(entry["request"], registry, context=context)
    expected = [{**s, "after": sorted(s["after"])} for s in entry["steps"]]
    assert shape(plan, expected) == expected
    assert plan.request == entry["request"]
    assert all(s.description for s in plan.steps)
    validate_plan(plan, registry)


@pytest.mark.parametrize("entry", cases("refusals"))
def test_refusals(entry: dict[str, Any], registry: AgentRegistry, context: PlanningContext) -> None:
    with pytest.raises(PlanningError) as info:
        OfflinePlanner().plan_now(entry["request"], registry, context=context)
    err = info.value
    assert entry.get("message", "") in err.message
    for fragment in entry.get("not_understood", []):
        assert any(fragment in n for n in err.not_understood), (fragment, err.not_understood)
    for fragment in entry.get("understood", []):
        assert any(fragment in u for u in err.understood), (fragment, err.understood)
