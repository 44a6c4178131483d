"""The LLM planner's loop, driven by a scripted model: ask, check, re-ask, accept or give up."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import baton.planning.llm
from baton.agents import AgentRegistry, agent
from baton.agents.builtin import AgentResources, builtin_agents
from baton.core.plan import Plan, Provenance, Step, StepPolicy
from baton.core.validation import PlanLimits
from baton.errors import (
    BudgetExceededError,
    ConfigError,
    ModelError,
    PlanningError,
)
from baton.llm.protocol import CallScope
from baton.llm.usage import Budget, UsageTotals
from baton.planning.llm import LLMPlanner, PlanDraft, Prompts
from baton.planning.offline import OfflinePlanner
from baton.planning.protocol import Planner, PlanningContext, Replanner
from baton.settings import Settings
from baton.store.calendar import MemoryCalendarStore
from support.scripted_model import RETRY_PREFIX, ScriptedTextModel, ScriptExhaustedError

pytestmark = pytest.mark.anyio

TZ = "Europe/London"
REQUEST = "read notes.txt and email it to dana@example.com"
GOOD: dict[str, Any] = {
    "name": "Send the notes",
    "steps": [
        {"id": "read", "agent": "files.read", "inputs": {"path": "notes.txt"}},
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "${read.content}"},
            "description": "email the notes",
        },
    ],
}


def with_steps(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"name": "x", "steps": list(steps)}


@pytest.fixture
def registry(tmp_path: Path) -> AgentRegistry:
    reg = AgentRegistry()
    resources = AgentResources(workspace=tmp_path, calendar=MemoryCalendarStore(), timezone=TZ)
    reg.register_all(builtin_agents(resources), source="builtin")
    return reg


@pytest.fixture
def context() -> PlanningContext:
    return PlanningContext(now=datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo(TZ)), timezone=TZ)


def test_public_surface() -> None:
    assert baton.planning.llm.__all__ == [
        "MAX_REQUEST_CHARS",
        "PROMPT_VERSION",
        "DraftCheck",
        "LLMPlanner",
        "PlanDraft",
        "Prompts",
        "StepDraft",
        "render_catalogue",
    ]
    assert isinstance(LLMPlanner(ScriptedTextModel([])), Planner)
    assert isinstance(LLMPlanner(ScriptedTextModel([])), Replanner)
    assert isinstance(OfflinePlanner(), Replanner)


async def test_a_valid_first_answer_is_the_plan(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([GOOD])
    plan = await LLMPlanner(model).plan(REQUEST, registry, context=context)
    assert [(s.id, s.agent) for s in plan.steps] == [
        ("read", "files.read"),
        ("send", "notify.send"),
    ]
    assert plan.step("send").dependencies() == ["read"]
    assert plan.step("send").description == "email the notes"
    assert plan.name == "Send the notes"
    assert plan.request == REQUEST
    assert plan.version == 1
    assert plan.revised_because is None
    assert plan.provenance == Provenance(
        planner="llm",
        provider="scripted",
        model="scripted-1",
        attempts=1,
        calls=1,
        input_tokens=100,
        output_tokens=40,
        cost_usd=0.001,
    )
    assert len(model.calls) == 1
    assert model.calls[0].purpose == "plan"
    assert model.calls[0].output_type is PlanDraft
    assert model.calls[0].problems == ()


async def test_the_prompt_files_are_used(registry: AgentRegistry, context: PlanningContext) -> None:
    model = ScriptedTextModel([GOOD])
    await LLMPlanner(model).plan(REQUEST, registry, context=context)
    call = model.calls[0]
    prompts = Prompts.load("v1")
    assert call.instructions == prompts.system
    assert "You are the planner of baton" in call.instructions
    prompt = call.prompt
    # The catalogue: every agent with its description, risk, input schema, output, examples.
    for name in registry.names():
        assert f"### {name}\n" in prompt
    read_schema = registry.get("files.read").spec.input_model.model_json_schema()
    assert read_schema["properties"]["path"]["description"] in prompt
    assert '"required":["path"]' in prompt
    # Schema titles are left out, fields called "title" are not.
    assert '"title":"' not in prompt
    assert '"properties":{"title":{"description":"Short summary of the event."' in prompt
    assert "### notify.send\nSend a message" in prompt
    for risk in ("read", "write"):
        assert prompt.count(f"- risk: {risk}\n") == sum(
            1 for spec in registry.specs() if spec.risk.value == risk
        )
    assert "- output fields: path (string), content (string), size (integer)" in prompt
    assert '- examples: "read notes.txt"' in prompt
    # Time, zone and the request as one JSON string.
    assert "Current time: 2026-11-25T10:00+00:00 (Wednesday), time zone Europe/London" in prompt
    assert json.dumps(REQUEST) in prompt


async def test_a_plan_marked_critical_needs_approval(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    answer = with_steps(
        {
            "id": "send",
            "agent": "notify.send",
            "critical": True,
            "inputs": {"to": "ops@example.com", "message": "hi"},
        },
    )
    plan = await LLMPlanner(ScriptedTextModel([answer])).plan(
        "ask me before emailing ops 'hi'", registry, context=context
    )
    assert plan.step("send").policy.critical is True


@pytest.mark.parametrize(
    ("bad", "expected"),
    [
        pytest.param(
            with_steps(
                {"id": "read", "agent": "files.read", "inputs": {"path": "notes.txt"}},
                {
                    "id": "send",
                    "agent": "email.send",
                    "inputs": {"to": "dana@example.com", "message": "${read.content}"},
                },
            ),
            ["[unknown_agent] step 'send': unknown agent 'email.send' (hint: did you mean"],
            id="unknown agent",
        ),
        pytest.param(
            with_steps({"id": "read", "agent": "files.read", "inputs": {"file": "notes.txt"}}),
            [
                "[invalid_input] step 'read': input 'path' of agent 'files.read': Field required",
                "[invalid_input] step 'read': input 'file' of agent 'files.read': Extra inputs",
            ],
            id="bad input",
        ),
        pytest.param(
            with_steps(
                {
                    "id": "a",
                    "agent": "files.read",
                    "inputs": {"path": "a.txt"},
                    "depends_on": ["b"],
                },
                {
                    "id": "b",
                    "agent": "files.read",
                    "inputs": {"path": "b.txt"},
                    "depends_on": ["a"],
                },
            ),
            ["[cycle] step 'a': the steps form a cycle: a -> b -> a"],
            id="cycle",
        ),
        pytest.param(
            with_steps({"id": "read notes", "agent": "files.read", "inputs": {"path": "n.txt"}}),
            ["[invalid_step] step 'read notes': id: String should match pattern"],
            id="bad step id",
        ),
        pytest.param(
            {"name": "x", "steps": [{"id": "read", "inputs": {"path": "notes.txt"}}]},
            ["steps.0.agent: Field required"],
            id="unparseable answer",
        ),
    ],
)
async def test_an_invalid_answer_is_asked_again_with_its_problems(
    registry: AgentRegistry, context: PlanningContext, bad: dict[str, Any], expected: list[str]
) -> None:
    model = ScriptedTextModel([bad, GOOD])
    plan = await LLMPlanner(model).plan(REQUEST, registry, context=context)
    assert [s.agent for s in plan.steps] == ["files.read", "notify.send"]
    assert len(model.calls) == 2
    first, second = model.calls
    assert RETRY_PREFIX not in first.prompt
    assert second.prompt.startswith(first.prompt)
    assert RETRY_PREFIX in second.prompt
    for fragment in expected:
        assert any(p.startswith(fragment) for p in second.problems), (fragment, second.problems)
        assert fragment in second.prompt
    assert plan.provenance is not None
    assert (plan.provenance.attempts, plan.provenance.calls) == (2, 2)
    assert plan.provenance.input_tokens == 200
    assert plan.provenance.output_tokens == 80
    assert plan.provenance.cost_usd == pytest.approx(0.002)


async def test_a_plan_over_the_limits_is_asked_again(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    many = with_steps(
        *({"id": f"r{i}", "agent": "files.read", "inputs": {"path": f"{i}.txt"}} for i in range(6))
    )
    model = ScriptedTextModel([many, GOOD])
    limits = PlanLimits(max_steps=5, max_width=10)
    await LLMPlanner(model, limits=limits).plan(REQUEST, registry, context=context)
    assert model.calls[1].problems == (
        "[too_many_steps] the plan has 6 steps; at most 5 are allowed "
        "(hint: combine steps, or split the request into smaller ones)",
    )


async def test_when_the_attempts_run_out_planning_fails_with_the_last_problems(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    unknown = with_steps({"id": "a", "agent": "shell.exec", "inputs": {}})
    cycle = with_steps(
        {"id": "a", "agent": "files.read", "inputs": {"path": "a.txt"}, "depends_on": ["a"]}
    )
    model = ScriptedTextModel([unknown, unknown, cycle])
    with pytest.raises(PlanningError) as caught:
        await LLMPlanner(model, max_attempts=3).plan(REQUEST, registry, context=context)
    message = str(caught.value)
    assert "the model's plan still had 1 problem(s) after 3 attempt(s)" in message
    assert "[self_dependency] step 'a': the step depends on itself" in message
    assert "shell.exec" not in message  # the last answer's problems, not the first's
    assert len(model.calls) == 3
    assert model.remaining == 0


async def test_one_attempt_means_no_second_question(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([with_steps({"id": "a", "agent": "nope", "inputs": {}}), GOOD])
    with pytest.raises(PlanningError, match="after 1 attempt"):
        await LLMPlanner(model, max_attempts=1).plan(REQUEST, registry, context=context)
    assert len(model.calls) == 1


async def test_the_model_may_say_it_cannot_plan(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([{"steps": [], "cannot_plan": "no agent can water plants"}])
    with pytest.raises(PlanningError) as caught:
        await LLMPlanner(model).plan("water the plants", registry, context=context)
    assert caught.value.not_understood == ("no agent can water plants",)


async def test_steps_and_cannot_plan_together_are_asked_again(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([{**GOOD, "cannot_plan": "maybe not"}, GOOD])
    await LLMPlanner(model).plan(REQUEST, registry, context=context)
    assert model.calls[1].problems[0].startswith("[ambiguous_answer]")


async def test_an_empty_or_huge_request_is_refused_without_a_call(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([GOOD])
    planner = LLMPlanner(model, max_request_chars=50)
    with pytest.raises(PlanningError, match="the request is empty"):
        await planner.plan("  ", registry, context=context)
    with pytest.raises(PlanningError, match="51 characters long; the limit is 50"):
        await planner.plan("x" * 51, registry, context=context)
    assert model.calls == []


async def test_a_model_error_propagates_with_its_message(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([ModelError("gemini is down (503)", retryable=True)])
    with pytest.raises(ModelError, match=r"gemini is down \(503\)"):
        await LLMPlanner(model).plan(REQUEST, registry, context=context)


async def test_a_spent_budget_stops_planning_before_the_next_call(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    bad = with_steps({"id": "a", "agent": "nope", "inputs": {}})
    model = ScriptedTextModel([bad, GOOD])  # 140 tokens a call
    budgeted = PlanningContext(now=context.now, timezone=TZ, budget=Budget(max_tokens=140))
    with pytest.raises(BudgetExceededError, match="140 of 140 tokens"):
        await LLMPlanner(model).plan(REQUEST, registry, context=budgeted)
    assert len(model.calls) == 1


async def test_what_the_execution_spent_before_counts_and_is_not_changed(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([GOOD])
    spent = UsageTotals(calls=3, input_tokens=900, output_tokens=100)
    budgeted = PlanningContext(
        now=context.now, timezone=TZ, budget=Budget(max_tokens=1000), spent=spent
    )
    with pytest.raises(BudgetExceededError):
        await LLMPlanner(model).plan(REQUEST, registry, context=budgeted)
    assert model.calls == []
    room = PlanningContext(
        now=context.now, timezone=TZ, budget=Budget(max_tokens=1200), spent=spent
    )
    plan = await LLMPlanner(model).plan(REQUEST, registry, context=room)
    assert plan.budget == Budget(max_tokens=1200)
    assert spent.tokens == 1000  # the caller's totals are its own


async def test_settings_give_the_attempts_and_limits() -> None:
    settings = Settings(llm_max_attempts=5, plan_max_steps=7, plan_max_fan_out=3, plan_max_width=4)
    planner = LLMPlanner.from_settings(ScriptedTextModel([]), settings)
    assert planner.max_attempts == 5
    assert planner.limits == PlanLimits(max_steps=7, max_fan_out=3, max_width=4)
    assert Settings().plan_max_steps == 50
    assert Settings().plan_max_fan_out == 20


def test_an_unknown_prompt_version_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"prompt file 'system\.v999\.md' is missing"):
        LLMPlanner(ScriptedTextModel([]), prompt_version="v999")


# --- replanning ----------------------------------------------------------------------------

RUNNING = Plan(
    name="fetch and send",
    request="fetch https://example.com/a and email it to ops@example.com",
    steps=[
        Step(id="get", agent="http.get", inputs={"url": "https://example.com/a"}),
        Step(id="sum", agent="text.summarize", inputs={"text": "${get.text}"}),
        Step(
            id="send",
            agent="notify.send",
            inputs={"to": "ops@example.com", "message": "${sum.summary}"},
            resources=["outbox:ops"],
            policy=StepPolicy(timeout_s=10, critical=True),
        ),
    ],
    max_concurrency=2,
    provenance=Provenance(
        planner="llm",
        provider="scripted",
        model="scripted-1",
        calls=1,
        input_tokens=100,
        output_tokens=40,
        cost_usd=0.001,
    ),
)
FINISHED = {"get": {"status": 200, "text": "A long page about things.", "url": "x"}}
FAILED = {"sum": "the text is too short to summarize"}


def revision(send_message: str, get_url: str = "https://example.com/a") -> dict[str, Any]:
    return with_steps(
        {"id": "get", "agent": "http.get", "inputs": {"url": get_url}},
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "ops@example.com", "message": send_message},
        },
    )


async def test_replan_keeps_finished_steps_and_records_a_new_version(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    model = ScriptedTextModel([revision("${get.text}")])
    revised = await LLMPlanner(model).replan(
        RUNNING,
        finished=FINISHED,
        failed=FAILED,
        reason="step 'sum' failed",
        registry=registry,
        context=context,
    )
    assert revised.version == 2
    assert revised.revised_because == "step 'sum' failed"
    assert revised.request == RUNNING.request
    assert revised.step("get") == RUNNING.step("get")
    assert revised.step("send").inputs["message"] == "${get.text}"
    # What a model does not write is kept: the step's resources and policy, the plan's cap.
    assert revised.step("send").resources == ["outbox:ops"]
    assert revised.step("send").policy == StepPolicy(timeout_s=10, critical=True)
    assert revised.max_concurrency == 2
    assert revised.provenance is not None
    assert (revised.provenance.calls, revised.provenance.input_tokens) == (2, 200)
    assert revised.provenance.cost_usd == pytest.approx(0.002)
    call = model.calls[0]
    assert call.purpose == "replan"
    assert "the text is too short to summarize" in call.prompt
    assert "\"step 'sum' failed\"" in call.prompt
    assert "A long page about things." in call.prompt
    assert '"id": "sum"' in call.prompt  # the running plan is shown
    assert "Keep every finished step exactly as it is" in call.prompt


async def test_replan_rejects_a_revision_that_changes_a_finished_step(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    changed = revision("${get.text}", get_url="https://example.com/b")
    dropped = with_steps(
        {"id": "send", "agent": "notify.send", "inputs": {"to": "ops@example.com", "message": "x"}}
    )
    model = ScriptedTextModel([changed, dropped, revision("${get.text}")])
    revised = await LLMPlanner(model).replan(
        RUNNING, finished=FINISHED, failed=FAILED, reason="r", registry=registry, context=context
    )
    assert revised.step("get").inputs == {"url": "https://example.com/a"}
    assert model.calls[1].problems == (
        "[finished_step_changed] step 'get': the step has finished, but the revision changes "
        "its inputs (hint: keep it as it was: agent 'http.get', inputs "
        "{'url': 'https://example.com/a'})",
    )
    removed = model.calls[2].problems[0]
    assert removed.startswith(
        "[finished_step_removed] step 'get': the step has finished, but the revision leaves it out"
    )


async def test_replan_rejects_a_revision_that_changes_nothing_and_gives_up(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    same = {"steps": [{"id": s.id, "agent": s.agent, "inputs": s.inputs} for s in RUNNING.steps]}
    model = ScriptedTextModel([same, same])
    with pytest.raises(PlanningError, match="revised plan still had 1 problem") as caught:
        await LLMPlanner(model, max_attempts=2).replan(
            RUNNING,
            finished=FINISHED,
            failed=FAILED,
            reason="r",
            registry=registry,
            context=context,
        )
    assert "[unchanged] the revision is the same as the plan that failed" in str(caught.value)


async def test_a_finished_step_may_not_wait_for_new_work(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    waits = revision("${get.text}")
    waits["steps"][0]["depends_on"] = ["send"]
    model = ScriptedTextModel([waits, revision("${get.text}")])
    await LLMPlanner(model).replan(
        RUNNING, finished=FINISHED, failed=FAILED, reason="r", registry=registry, context=context
    )
    assert any(p.startswith("[finished_step_waits] step 'get'") for p in model.calls[1].problems)


# --- the offline planner's replan -----------------------------------------------------------


async def test_offline_replan_refuses_without_an_alternative(
    registry: AgentRegistry, context: PlanningContext
) -> None:
    with pytest.raises(PlanningError, match="cannot replan offline") as caught:
        await OfflinePlanner().replan(
            RUNNING,
            finished=FINISHED,
            failed=FAILED,
            reason="r",
            registry=registry,
            context=context,
        )
    assert caught.value.not_understood == ("step 'sum' (text.summarize): no other agent can do it",)


async def test_offline_replan_swaps_in_an_agent_of_the_same_capability(
    context: PlanningContext,
) -> None:
    @agent("mail.primary", description="Send mail.", capability="mail")
    async def primary(to: str) -> str:
        return to

    @agent("mail.backup", description="Send mail another way.", capability="mail")
    async def backup(to: str) -> str:
        return to

    @agent("misc.other", description="Unrelated.", capability="other")
    async def other(to: str) -> str:
        return to

    reg = AgentRegistry()
    reg.register_all([primary, backup, other], source="python")
    plan = Plan(
        steps=[
            Step(id="a", agent="misc.other", inputs={"to": "x"}),
            Step(id="b", agent="mail.primary", inputs={"to": "${a}"}),
        ]
    )
    revised = await OfflinePlanner().replan(
        plan,
        finished={"a": {"result": "x"}},
        failed={"b": "smtp down"},
        reason="b failed",
        registry=reg,
        context=context,
    )
    assert [(s.id, s.agent) for s in revised.steps] == [("a", "misc.other"), ("b", "mail.backup")]
    assert revised.step("b").inputs == {"to": "${a}"}
    assert (revised.version, revised.revised_because) == (2, "b failed")
    assert revised.provenance == Provenance(planner="offline")


# --- the scripted model itself ---------------------------------------------------------------


async def test_the_scripted_model_counts_and_re_asks_like_the_client() -> None:
    scope = CallScope(purpose="agent", step_id="s1", budget=Budget(max_tokens=500))
    model = ScriptedTextModel([{"steps": [{"id": 1}]}, GOOD, "plain text", ModelError("down")])
    got = await model.generate(
        instructions="i", prompt="p", output_type=PlanDraft, scope=scope, check=lambda d: []
    )
    assert (got.attempts, len(got.calls)) == (2, 2)
    assert got.calls[0].step_id == "s1"
    assert model.calls[1].problems == (
        "steps.0.id: Input should be a valid string",
        "steps.0.agent: Field required",
    )
    assert await model.complete(instructions="i", prompt="q", scope=scope) == "plain text"
    with pytest.raises(ModelError, match="down"):
        await model.complete(instructions="i", prompt="r", scope=scope)
    # Every call counted, the failed one's input tokens too; then the budget is spent.
    assert (scope.spent.calls, scope.spent.tokens) == (4, 100 * 4 + 40 * 3)
    with pytest.raises(BudgetExceededError):
        await model.complete(instructions="i", prompt="s", scope=scope)
    roomy = CallScope(purpose="agent")
    with pytest.raises(ScriptExhaustedError):
        await model.complete(instructions="i", prompt="t", scope=roomy)
