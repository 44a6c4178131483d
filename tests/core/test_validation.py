from __future__ import annotations

import pytest

from baton.agents import AgentRegistry
from baton.core.plan import Plan, Step
from baton.core.validation import plan_problems, validate_plan
from baton.errors import PlanValidationError


def plan(*steps: Step) -> Plan:
    return Plan(steps=list(steps))


def codes(p: Plan, registry: AgentRegistry) -> list[str]:
    return [problem.code for problem in plan_problems(p, registry)]


def test_a_sound_plan_passes(registry: AgentRegistry) -> None:
    validate_plan(
        plan(
            Step(id="a", agent="echo", inputs={"text": "hi"}),
            Step(id="b", agent="shout", inputs={"text": "${a.text}"}),
        ),
        registry,
    )


def test_empty_plan_is_refused(registry: AgentRegistry) -> None:
    with pytest.raises(PlanValidationError, match="no steps"):
        validate_plan(Plan(), registry)


def test_cycle_is_printed_as_a_path(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="a", agent="echo", inputs={"text": "x"}, depends_on=["c"]),
        Step(id="b", agent="echo", inputs={"text": "x"}, depends_on=["a"]),
        Step(id="c", agent="echo", inputs={"text": "x"}, depends_on=["b"]),
    )
    problems = plan_problems(p, registry)
    assert [x.code for x in problems] == ["cycle"]
    assert "a -> b -> c -> a" in problems[0].message


def test_self_dependency_is_named(registry: AgentRegistry) -> None:
    p = plan(Step(id="a", agent="echo", inputs={"text": "x"}, depends_on=["a"]))
    problems = plan_problems(p, registry)
    assert [x.code for x in problems] == ["self_dependency"]
    assert "depends on itself" in str(problems[0])


def test_duplicate_ids(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="a", agent="echo", inputs={"text": "x"}),
        Step(id="a", agent="echo", inputs={"text": "y"}),
    )
    assert codes(p, registry) == ["duplicate_step"]


def test_unknown_agent_suggests_closest_names(registry: AgentRegistry) -> None:
    problems = plan_problems(plan(Step(id="a", agent="ecco", inputs={"text": "x"})), registry)
    assert problems[0].code == "unknown_agent"
    assert problems[0].hint is not None
    assert "'echo'" in problems[0].hint


def test_missing_step_reference_and_dependency(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="first", agent="echo", inputs={"text": "x"}),
        Step(id="b", agent="shout", inputs={"text": "${frist.text}"}, depends_on=["nope"]),
    )
    problems = plan_problems(p, registry)
    assert sorted(x.code for x in problems) == ["missing_step", "missing_step"]
    ref = next(x for x in problems if "frist" in x.message)
    assert ref.hint == "did you mean 'first'?"


def test_reference_to_missing_output_field(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="a", agent="echo", inputs={"text": "x"}),
        Step(id="b", agent="shout", inputs={"text": "${a.body}"}),
    )
    problems = plan_problems(p, registry)
    assert [x.code for x in problems] == ["missing_field"]
    assert "no field 'body'" in problems[0].message
    assert problems[0].hint == "available fields: text"


def test_inputs_failing_the_schema(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="a", agent="echo", inputs={}),
        Step(id="b", agent="nap", inputs={"seconds": "soon"}),
        Step(id="c", agent="echo", inputs={"text": "x", "colour": "red"}),
    )
    problems = plan_problems(p, registry)
    assert [(x.step_id, x.code) for x in problems] == [
        ("a", "invalid_input"),
        ("b", "invalid_input"),
        ("c", "invalid_input"),
    ]
    assert "required inputs: text" in (problems[0].hint or "")
    assert "colour" in problems[2].message


def test_referenced_input_is_not_reported_missing(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="a", agent="echo", inputs={"text": "x"}),
        Step(id="b", agent="shout", inputs={"text": "${a.text}"}),
    )
    assert plan_problems(p, registry) == []


def test_every_problem_is_reported_at_once(registry: AgentRegistry) -> None:
    p = plan(
        Step(id="a", agent="nope", inputs={}),
        Step(id="b", agent="echo", inputs={"text": "x"}, depends_on=["b"]),
    )
    with pytest.raises(PlanValidationError) as info:
        validate_plan(p, registry)
    assert {x.code for x in info.value.problems} == {"unknown_agent", "self_dependency"}
    assert "2 problem(s)" in str(info.value)
