"""The planner eval set, the scorer, and `baton eval planner`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from baton.agents import AgentRegistry
from baton.agents.builtin import AgentResources, builtin_agents
from baton.cli import app
from baton.core.graph import Dag
from baton.core.plan import Plan, Step
from baton.core.validation import PlanLimits, limit_problems, path_problems, plan_problems
from baton.errors import PlanLoadError
from baton.planning.evaluation import EvalSet, evaluate
from baton.planning.llm import LLMPlanner
from baton.planning.offline import OfflinePlanner
from baton.planning.scoring import NO_PLAN, score_plan, similarity
from baton.store.calendar import MemoryCalendarStore
from support.scripted_model import ScriptedTextModel

SET = EvalSet.load()


@pytest.fixture
def registry(tmp_path: Path) -> AgentRegistry:
    reg = AgentRegistry()
    resources = AgentResources(
        workspace=tmp_path, calendar=MemoryCalendarStore(), timezone=SET.timezone
    )
    reg.register_all(builtin_agents(resources), source="builtin")
    return reg


# --- the set ---------------------------------------------------------------------------------


def test_the_set_is_big_and_covers_every_agent_group() -> None:
    assert len(SET.cases) >= 30
    groups = {s.agent.split(".")[0] for c in SET.cases for s in c.expected.steps}
    assert groups == {"files", "http", "text", "data", "calendar", "notify"}
    dags = [Dag.of(c.expected) for c in SET.cases]
    # Several steps with dependencies, and parallel branches (two roots, or a join).
    assert sum(len(c.expected.steps) >= 3 for c in SET.cases) >= 8
    assert sum(sum(not d.deps[s] for s in d.order) >= 2 for d in dags) >= 4
    assert any(len(deps) >= 2 for d in dags for deps in d.deps.values())
    assert SET.now.isoformat() == "2026-11-25T10:00:00+00:00"
    assert SET.source == "baton.planning/evalset/requests.yaml"


def test_every_expected_plan_is_a_valid_plan(registry: AgentRegistry) -> None:
    for case in SET.cases:
        plan = case.expected
        found = [
            *plan_problems(plan, registry),
            *limit_problems(plan, PlanLimits()),
            *path_problems(plan, registry),
        ]
        assert found == [], (case.id, [str(p) for p in found])


def test_a_bad_set_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PlanLoadError, match="is not valid YAML"):
        EvalSet.parse("requests: [", source="x.yaml")
    with pytest.raises(PlanLoadError, match=r"x\.yaml is not valid: now: Field required"):
        EvalSet.parse(
            "requests: [{id: a, request: b, steps: [{id: s, agent: t}]}]", source="x.yaml"
        )
    doubled = (
        "now: '2026-01-01T00:00:00+00:00'\nrequests:\n"
        "  - {id: a, request: r, steps: [{id: s, agent: t}]}\n"
        "  - {id: a, request: q, steps: [{id: s, agent: t}]}\n"
    )
    with pytest.raises(PlanLoadError, match="repeats the ids a"):
        EvalSet.parse(doubled, source="x.yaml")
    with pytest.raises(PlanLoadError, match="cannot read the eval set"):
        EvalSet.load(tmp_path / "missing.yaml")


# --- the scorer ------------------------------------------------------------------------------

EXPECTED = Plan(
    steps=[
        Step(id="read", agent="files.read", inputs={"path": "notes.txt"}),
        Step(
            id="sum", agent="text.summarize", inputs={"text": "${read.content}", "max_sentences": 2}
        ),
        Step(
            id="send",
            agent="notify.send",
            inputs={"to": "ops@example.com", "message": "${sum.summary}"},
        ),
        Step(
            id="save", agent="files.write", inputs={"path": "out.txt", "content": "${sum.summary}"}
        ),
    ]
)


def planned(*steps: Step) -> Plan:
    return Plan(steps=list(steps))


def test_a_perfect_plan_scores_one_whatever_its_step_ids() -> None:
    renamed = planned(
        Step(id="a", agent="files.read", inputs={"path": "notes.txt"}),
        Step(
            id="b",
            agent="text.summarize",
            inputs={"text": "${a.content}", "max_sentences": 2, "extra": 1},
        ),
        Step(id="d", agent="files.write", inputs={"path": "out.txt", "content": "${b.summary}"}),
        Step(
            id="c", agent="notify.send", inputs={"to": "ops@example.com", "message": "${b.summary}"}
        ),
    )
    score = score_plan(EXPECTED, renamed)
    assert score.exact
    assert (score.agents, score.dependencies, score.arguments) == (1.0, 1.0, 1.0)


def test_a_wrong_agent_lowers_the_agent_score() -> None:
    steps = list(EXPECTED.steps)
    steps[3] = Step(
        id="save", agent="notify.send", inputs={"to": "out.txt", "message": "${sum.summary}"}
    )
    score = score_plan(EXPECTED, planned(*steps))
    assert not score.agents_exact
    assert score.agents == pytest.approx(0.75)  # 3 of 4 right: F1 = 6/8
    assert not score.arguments_exact
    assert score.arguments == pytest.approx(5 / 7)  # the unmatched step's 2 inputs count 0


def test_a_missing_edge_lowers_the_dependency_score() -> None:
    steps = list(EXPECTED.steps)
    steps[3] = Step(id="save", agent="files.write", inputs={"path": "out.txt", "content": "x"})
    score = score_plan(EXPECTED, planned(*steps))
    assert score.agents_exact
    assert not score.dependencies_exact
    # expected pairs: sum>read, send>sum, send>read, save>sum, save>read; 3 of 5 found.
    assert score.dependencies == pytest.approx(2 * 3 / (5 + 3))


def test_a_redundant_edge_costs_nothing_but_chaining_branches_does() -> None:
    redundant = list(EXPECTED.steps)
    redundant[2] = redundant[2].model_copy(update={"depends_on": ["read"]})
    assert score_plan(EXPECTED, planned(*redundant)).exact
    chained = list(EXPECTED.steps)
    chained[2] = chained[2].model_copy(update={"depends_on": ["save"]})
    score = score_plan(EXPECTED, planned(*chained))
    assert score.agents_exact
    assert score.arguments_exact
    assert not score.dependencies_exact
    assert score.dependencies == pytest.approx(2 * 5 / (5 + 6))


def test_a_wrong_argument_lowers_the_argument_score() -> None:
    steps = list(EXPECTED.steps)
    steps[0] = Step(id="read", agent="files.read", inputs={"path": "notes.md"})
    score = score_plan(EXPECTED, planned(*steps))
    assert score.agents_exact
    assert score.dependencies_exact
    assert not score.arguments_exact
    assert 0.9 < score.arguments < 1.0


def test_no_plan_scores_nothing() -> None:
    assert score_plan(EXPECTED, None) == NO_PLAN
    assert not NO_PLAN.exact
    assert (NO_PLAN.agents, NO_PLAN.dependencies, NO_PLAN.arguments) == (0.0, 0.0, 0.0)


@pytest.mark.parametrize(
    ("expected", "actual", "score"),
    [
        ("2026-11-27T00:00:00+00:00", "2026-11-27T01:00:00+01:00", 1.0),
        ("2026-11-27T00:00:00+00:00", "2026-11-27T00:00:00Z", 1.0),
        (["a@x.org", "b@x.org"], ["b@x.org", "a@x.org"], 1.0),
        (["a@x.org", "b@x.org"], ["a@x.org"], pytest.approx(2 / 3)),
        ({"name": "Dana"}, {"name": "Dana", "x": 1}, 0.5),
        ("hello  world", "hello world", 1.0),
        (3, 3.0, 1.0),
        (3, 4, 0.0),
        ("abc", ["abc"], 0.0),
    ],
)
def test_similarity(expected: Any, actual: Any, score: float) -> None:
    assert similarity(expected, actual) == score


# --- planners on the set ---------------------------------------------------------------------


@pytest.mark.anyio
async def test_the_offline_planners_scores(registry: AgentRegistry) -> None:
    report = await evaluate(OfflinePlanner(), SET, registry)
    totals = report.totals
    # Measured on 37 requests (2026-11-26); floors, so that a better planner passes too.
    assert totals.requests == 37
    assert totals.planned >= 36
    assert totals.exact >= 29 / 37
    assert totals.agents_exact >= 34 / 37
    assert totals.dependencies_exact >= 32 / 37
    assert totals.arguments_exact >= 30 / 37
    assert totals.agents >= 0.96
    assert totals.dependencies >= 0.94
    assert totals.arguments >= 0.94
    failed = [r for r in report.results if r.plan is None]
    assert [r.case.id for r in failed] == ["text-slug"]
    assert failed[0].error is not None
    assert "could not plan" in failed[0].error


@pytest.mark.anyio
async def test_the_llm_planner_answering_the_expected_plans_scores_one(
    registry: AgentRegistry,
) -> None:
    answers = [
        {
            "name": c.id,
            "steps": [
                s.model_dump(include={"id", "agent", "inputs", "depends_on"})
                for s in c.expected.steps
            ],
        }
        for c in SET.cases
    ]
    model = ScriptedTextModel(answers)
    report = await evaluate(LLMPlanner(model), SET, registry)
    assert report.planner == "llm"
    assert model.remaining == 0
    assert len(model.calls) == len(SET.cases)
    assert all(r.score.exact for r in report.results), [
        r.case.id for r in report.results if not r.score.exact
    ]
    t = report.totals
    assert (t.exact, t.agents, t.dependencies, t.arguments) == (1.0, 1.0, 1.0, 1.0)
    # Every request was planned at the set's time, in its zone.
    assert all("Current time: 2026-11-25T10:00+00:00 (Wednesday)" in p for p in model.prompts)


@pytest.mark.anyio
async def test_a_provider_error_scores_zero_and_is_kept(registry: AgentRegistry) -> None:
    from baton.errors import ModelError

    small = EvalSet(cases=SET.cases[:2], now=SET.now, timezone=SET.timezone, source="two")
    first = small.cases[0].expected
    model = ScriptedTextModel(
        [
            ModelError("rate limited past our retries"),
            {"steps": [s.model_dump(include={"id", "agent", "inputs"}) for s in first.steps]},
        ]
    )
    report = await evaluate(LLMPlanner(model), small, registry)
    assert [r.error for r in report.results] == ["rate limited past our retries", None]
    assert report.results[0].score == NO_PLAN
    assert report.totals.planned == 1


# --- the command -----------------------------------------------------------------------------


def run_cli(tmp_path: Path, *args: str) -> Any:
    env = {
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_WORKSPACE": str(tmp_path / "ws"),
        "BATON_PLUGINS_DIR": str(tmp_path / "plugins"),
        "BATON_URL": "",
        "BATON_LLM_PROVIDER": "none",
        "BATON_TRACING": "false",
        "COLUMNS": "120",
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_baton_eval_planner_prints_a_table(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "eval", "planner", "--planner", "offline")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert any(line.startswith("files-read ") and line.count("exact") == 3 for line in lines)
    assert any(line.startswith("text-slug ") and "could not plan" in line for line in lines)
    assert any(line.startswith("exact ") and "all three: 29/37" in line for line in lines)
    assert any(line.startswith("partial ") and "planned 36/37" in line for line in lines)


def test_baton_eval_planner_json_with_another_set(tmp_path: Path) -> None:
    small = tmp_path / "set.yaml"
    small.write_text(
        "now: '2026-11-25T10:00:00+00:00'\ntimezone: Europe/London\nrequests:\n"
        "  - {id: one, request: read notes.txt, steps: [{id: r, agent: files.read, "
        "inputs: {path: notes.txt}}]}\n"
        "  - {id: two, request: make me a sandwich, steps: [{id: r, agent: files.read}]}\n"
    )
    result = run_cli(
        tmp_path, "eval", "planner", "--planner", "offline", "--set", str(small), "--json"
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["planner"] == "offline"
    assert data["set"] == str(small)
    assert [(r["id"], r["exact"], r["planned"]) for r in data["results"]] == [
        ("one", True, True),
        ("two", False, False),
    ]
    assert data["totals"]["exact"] == 0.5


def test_baton_eval_planner_with_a_missing_set_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "eval", "planner", "--set", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "cannot read the eval set" in result.output
