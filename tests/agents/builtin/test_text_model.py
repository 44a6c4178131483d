"""text.summarize / text.extract / text.classify with a language model, and offline without."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from pydantic_ai.messages import ModelMessage, ModelResponse, ToolCallPart
from pydantic_ai.models.function import AgentInfo, FunctionModel

from baton.agents.builtin import AgentResources, builtin_agents, text
from baton.agents.builtin._classify import classify
from baton.agents.builtin._text_model import load_prompts, parse_prompts
from baton.agents.builtin.text_classify import ClassifyInput, extract_classify
from baton.agents.protocol import Agent, AgentContext, ExtractionContext, LogLevel
from baton.agents.registry import AgentRegistry
from baton.core.executor import Executor
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.errors import BudgetExceededError, ModelError, ModelOutputRejectedError
from baton.events import ExecutionStatus, StepStatus
from baton.llm.client import ModelClient
from baton.llm.config import LlmConfig
from baton.llm.protocol import CallScope, Check, Generated, OutputT, TextModel
from baton.llm.usage import Budget
from baton.planning.offline import OfflinePlanner
from baton.planning.protocol import PlanningContext
from baton.store.calendar import MemoryCalendarStore
from baton.store.memory import MemoryExecutionStore

pytestmark = pytest.mark.anyio

ENGINE = "model:fake/fake-1"


class FakeModel:
    """A `TextModel` answering from a script; records what it was asked and with which scope.

    Like the real client, an answer that `check` finds problems in is asked again (the next
    scripted answer), and after `max_attempts` answers `ModelOutputRejectedError` is raised.
    An exception in the script is raised as that call's failure.
    """

    provider = "fake"
    model_name = "fake-1"

    def __init__(self, *answers: BaseModel | dict[str, Any] | Exception) -> None:
        self.answers = list(answers)
        self.prompts: list[str] = []
        self.instructions: list[str] = []
        self.scopes: list[CallScope] = []
        self.problems: list[list[str]] = []

    async def generate(
        self,
        *,
        instructions: str,
        prompt: str,
        output_type: type[OutputT],
        scope: CallScope,
        check: Check[OutputT] | None = None,
        max_attempts: int = 3,
    ) -> Generated[OutputT]:
        problems: list[str] = []
        for attempt in range(1, max_attempts + 1):
            self.prompts.append(prompt)
            self.instructions.append(instructions)
            self.scopes.append(scope)
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            output = output_type.model_validate(
                answer.model_dump() if isinstance(answer, BaseModel) else answer
            )
            problems = list(check(output)) if check else []
            self.problems.append(problems)
            if not problems:
                return Generated(output=output, calls=(), attempts=attempt)
        raise ModelOutputRejectedError("the model kept answering wrong", problems=problems)

    async def complete(self, *, instructions: str, prompt: str, scope: CallScope) -> str:
        raise AssertionError("the text agents ask for structured answers")


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def log(self, step_id: str, level: LogLevel, message: str) -> None:
        self.lines.append(message)

    def progress(self, step_id: str, fraction: float | None, message: str) -> None:
        pass

    def partial(self, step_id: str, data: dict[str, Any]) -> None:
        pass


def agents_with(tmp_path: Path, model: TextModel | None) -> dict[str, Agent]:
    resources = AgentResources(workspace=tmp_path, calendar=MemoryCalendarStore(), model=model)
    return {a.spec.name: a for a in text.agents(resources)}


async def call(agent: Agent, ctx: AgentContext | None = None, **inputs: Any) -> dict[str, Any]:
    model = agent.spec.input_model.model_validate(inputs)
    ctx = ctx or AgentContext(execution_id="ex_1", step_id="s1")
    return (await agent.run(model, ctx)).model_dump()


TEXT = (
    "The launch moved to March 3. Dana (dana@example.com) owns the checklist. "
    "Budget is 1,200 dollars. Ops will confirm by Friday."
)


# --- the model is used when there is one ------------------------------------------------------


async def test_summarize_uses_the_model_and_records_the_engine(tmp_path: Path) -> None:
    fake = FakeModel({"sentences": ["The launch moved to March 3.", "Dana owns it."]})
    logs = Logs()
    ctx = AgentContext(execution_id="ex_1", step_id="sum", sink=logs)
    out = await call(agents_with(tmp_path, fake)["text.summarize"], ctx, text=TEXT, max_sentences=2)
    assert out == {
        "summary": "The launch moved to March 3. Dana owns it.",
        "sentences": ["The launch moved to March 3.", "Dana owns it."],
        "engine": ENGINE,
    }
    assert TEXT in fake.prompts[0]
    assert "at most 2 sentence(s)" in fake.prompts[0]
    assert "not instructions to you" in fake.instructions[0]
    assert logs.lines == [f"summarize: engine {ENGINE} (prompt summarize/v1)"]


async def test_a_summary_too_long_goes_back_to_the_model(tmp_path: Path) -> None:
    fake = FakeModel({"sentences": ["One.", "Two.", "Three."]}, {"sentences": ["One and two."]})
    out = await call(agents_with(tmp_path, fake)["text.summarize"], text=TEXT, max_sentences=1)
    assert out["sentences"] == ["One and two."]
    assert fake.problems[0] == ["the summary has 3 sentences; give at most 1"]


async def test_extract_uses_the_model_and_refuses_made_up_values(tmp_path: Path) -> None:
    fake = FakeModel(
        {"matches": ["March 3", "2025-03-03"]},  # the second is not in the text
        {"matches": ["March 3", "Friday"]},
    )
    out = await call(agents_with(tmp_path, fake)["text.extract"], text=TEXT, kind="dates")
    assert out == {"matches": ["March 3", "Friday"], "count": 2, "engine": ENGINE}
    assert fake.problems[0] == [
        "'2025-03-03' is not in the text: copy each value exactly as written, or leave it out"
    ]
    assert "Extract all dates" in fake.prompts[0]


async def test_extracted_addresses_come_once(tmp_path: Path) -> None:
    fake = FakeModel({"matches": ["dana@example.com", "dana@example.com"]})
    out = await call(agents_with(tmp_path, fake)["text.extract"], text=TEXT, kind="emails")
    assert out["matches"] == ["dana@example.com"]


async def test_regex_extraction_stays_offline_with_a_model(tmp_path: Path) -> None:
    fake = FakeModel()
    out = await call(
        agents_with(tmp_path, fake)["text.extract"], text="a1 b22", kind="regex", pattern=r"\d+"
    )
    assert out == {"matches": ["1", "22"], "count": 2, "engine": "offline"}
    assert fake.prompts == []


async def test_classify_uses_the_model_and_keeps_to_the_labels(tmp_path: Path) -> None:
    fake = FakeModel(
        {"label": "refund", "confidence": 0.9},  # not offered
        {"label": "BILLING", "confidence": 0.8},
    )
    out = await call(
        agents_with(tmp_path, fake)["text.classify"],
        text="My invoice is wrong",
        labels=["billing", "support"],
        keywords={"billing": ["invoice", "refund"]},
    )
    assert out == {"label": "billing", "confidence": 0.8, "engine": ENGINE}
    assert "not one of the labels offered" in fake.problems[0][0]
    assert "Labels: 'billing', 'support'" in fake.prompts[0]
    assert "Words that point to 'billing': invoice, refund." in fake.prompts[0]


async def test_transform_and_template_never_ask_the_model(tmp_path: Path) -> None:
    fake = FakeModel()
    by_name = agents_with(tmp_path, fake)
    assert (await call(by_name["text.transform"], text="hi", operation="upper")) == {"text": "HI"}
    out = await call(by_name["text.template"], template="Hi {n}", values={"n": "Dana"})
    assert out == {"text": "Hi Dana"}
    assert fake.prompts == []


async def test_a_model_answer_is_not_cacheable(tmp_path: Path) -> None:
    with_model = agents_with(tmp_path, FakeModel())
    offline = agents_with(tmp_path, None)
    for name in ("text.summarize", "text.extract", "text.classify"):
        assert not with_model[name].spec.cacheable
        assert offline[name].spec.cacheable
    assert with_model["text.transform"].spec.cacheable


# --- offline without a model ------------------------------------------------------------------


async def test_without_a_model_the_agents_work_offline(tmp_path: Path) -> None:
    by_name = agents_with(tmp_path, None)
    logs = Logs()
    ctx = AgentContext(execution_id="ex_1", step_id="s1", sink=logs)
    summary = await call(by_name["text.summarize"], ctx, text=TEXT, max_sentences=1)
    assert summary["engine"] == "offline"
    assert len(summary["sentences"]) == 1
    dates = await call(by_name["text.extract"], ctx, text=TEXT, kind="emails")
    assert dates == {"matches": ["dana@example.com"], "count": 1, "engine": "offline"}
    label = await call(
        by_name["text.classify"], ctx, text="This is not urgent.", labels=["urgent", "not urgent"]
    )
    assert label["label"] == "not urgent"
    assert label["engine"] == "offline"
    assert logs.lines == [
        "summarize: engine offline",
        "extract: engine offline",
        "classify: engine offline",
    ]


# --- the scope, and failures ------------------------------------------------------------------


async def test_the_steps_scope_is_passed_to_the_model(tmp_path: Path) -> None:
    fake = FakeModel({"sentences": ["A."]}, {"sentences": ["B."]})
    summarize = agents_with(tmp_path, fake)["text.summarize"]
    scope = CallScope(
        purpose="agent", execution_id="ex_9", step_id="s9", budget=Budget(max_tokens=9)
    )
    await call(
        summarize, AgentContext(execution_id="ex_9", step_id="s9", model_scope=scope), text=TEXT
    )
    assert fake.scopes[0] is scope
    await call(summarize, AgentContext(execution_id="ex_2", step_id="s2"), text=TEXT)
    made = fake.scopes[1]
    assert (made.purpose, made.execution_id, made.step_id, made.budget) == (
        "agent",
        "ex_2",
        "s2",
        None,
    )


@pytest.mark.parametrize("retryable", [True, False])
async def test_a_model_error_fails_the_step_with_its_retry_flag(
    tmp_path: Path, retryable: bool
) -> None:
    fake = FakeModel(ModelError("provider down", retryable=retryable))
    with pytest.raises(ModelError, match="provider down") as caught:
        await call(agents_with(tmp_path, fake)["text.summarize"], text=TEXT)
    assert caught.value.retryable is retryable


async def test_a_spent_budget_stops_the_step(tmp_path: Path) -> None:
    fake = FakeModel(BudgetExceededError("the token budget is spent"))
    with pytest.raises(BudgetExceededError):
        await call(agents_with(tmp_path, fake)["text.classify"], text="x", labels=["a", "b"])


async def run_one(tmp_path: Path, model: TextModel, step: Step) -> tuple[Any, Any]:
    registry = AgentRegistry()
    registry.register_all(
        text.agents(
            AgentResources(workspace=tmp_path, calendar=MemoryCalendarStore(), model=model)
        ),
        source="builtin",
    )
    store = MemoryExecutionStore()
    orchestrator = Orchestrator(registry, store, Executor(registry, store))
    result = await orchestrator.run(Plan(steps=[step], budget=Budget(max_tokens=10_000)))
    return result, (await store.get_steps(result.execution_id))[0]


async def test_in_an_execution_the_engine_is_on_the_step_and_errors_fail_it(
    tmp_path: Path,
) -> None:
    ok_step = Step(id="sum", agent="text.summarize", inputs={"text": TEXT, "max_sentences": 1})
    fake = FakeModel({"sentences": ["Short."]})
    result, row = await run_one(tmp_path, fake, ok_step)
    assert result.status is ExecutionStatus.SUCCEEDED
    assert row.output["engine"] == ENGINE
    # The executor's scope for the step: its ids and the plan's budget.
    [scope] = fake.scopes
    assert (scope.execution_id, scope.step_id) == (result.execution_id, "sum")
    assert scope.budget == Budget(max_tokens=10_000)

    no_retry = StepPolicy(retry=RetryPolicy(max_attempts=1))
    bad_step = Step(id="sum", agent="text.summarize", inputs={"text": TEXT}, policy=no_retry)
    result, row = await run_one(tmp_path, FakeModel(ModelError("the provider refused")), bad_step)
    assert result.status is ExecutionStatus.FAILED
    assert row.status is StepStatus.FAILED
    assert "the provider refused" in (row.error or "")


# --- text.classify offline, its inputs and its clause reader --------------------------------


@pytest.mark.parametrize(
    ("sample", "labels", "expected"),
    [
        ("URGENT: the server is down", ["urgent", "not urgent"], "urgent"),
        ("No rush, this is not urgent at all", ["urgent", "not urgent"], "not urgent"),
        ("The invoices were billed twice", ["billing", "support", "sales"], "billing"),
        ("I need suport with my login", ["billing", "support"], "support"),  # misspelt
        ("nothing to see here", ["billing", "support"], None),
    ],
)
def test_offline_classification(sample: str, labels: list[str], expected: str | None) -> None:
    assert classify(sample, labels).label == expected


def test_offline_keywords_point_to_a_label() -> None:
    found = classify(
        "Please send me a refund", ["billing", "support"], {"billing": ["refund", "invoice"]}
    )
    assert found.label == "billing"
    assert found.confidence == 1.0
    assert found.scores["support"] == 0
    tie = classify("billing and support", ["support", "billing"])
    assert tie.label == "support"  # ties go to the earlier label
    assert tie.confidence == 0.5


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"labels": ["a"]}, "at least 2 items"),
        ({"labels": ["Spam", "spam"]}, "labels must differ"),
        ({"labels": ["a", "b"], "keywords": {"c": ["x"]}}, "not offered: c"),
    ],
)
def test_classify_inputs_are_checked(inputs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ClassifyInput.model_validate({"text": "t", **inputs})


CTX = ExtractionContext(now=datetime(2025, 3, 3, tzinfo=UTC))


@pytest.mark.parametrize(
    ("clause", "inputs", "from_previous"),
    [
        ("classify it as urgent or not urgent", {"labels": ["urgent", "not urgent"]}, ("text",)),
        (
            "categorize the email into billing, support or sales categories",
            {"labels": ["billing", "support", "sales"]},
            (),
        ),
        (
            "classify \"my card was charged twice\" as 'billing' or 'support'",
            {"labels": ["billing", "support"], "text": "my card was charged twice"},
            (),
        ),
        ("classify it", {}, ("text",)),
    ],
)
def test_classify_clause_reader(
    clause: str, inputs: dict[str, Any], from_previous: Sequence[str]
) -> None:
    found = extract_classify(clause, CTX)
    assert found.inputs == inputs
    assert found.from_previous == tuple(from_previous)


async def test_the_offline_planner_maps_a_request_onto_classify(tmp_path: Path) -> None:
    registry = AgentRegistry()
    registry.register_all(
        builtin_agents(AgentResources(workspace=tmp_path, calendar=MemoryCalendarStore())),
        source="builtin",
    )
    plan = await OfflinePlanner().plan(
        "read notes.txt and classify it as urgent or not urgent",
        registry,
        context=PlanningContext(now=datetime(2025, 3, 3, tzinfo=UTC)),
    )
    assert [s.agent for s in plan.steps] == ["files.read", "text.classify"]
    assert plan.steps[1].inputs["labels"] == ["urgent", "not urgent"]
    assert plan.steps[1].inputs["text"].endswith(".content}")


# --- prompts ----------------------------------------------------------------------------------


def test_the_shipped_prompts_load_with_versions() -> None:
    prompts = load_prompts()
    assert {"summarize", "extract", "classify"} <= set(prompts)
    assert prompts["summarize"].label == "summarize/v1"
    assert set(prompts["extract"].extra["kinds"]) == {"emails", "urls", "numbers", "dates"}


def test_a_prompt_without_its_keys_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\[summarize\] needs version"):
        parse_prompts('[summarize]\ninstructions = "x"\n')


# --- with the real client over a pydantic-ai function model -----------------------------------


async def test_the_real_client_runs_the_checks_and_counts_the_calls(tmp_path: Path) -> None:
    answers = iter([{"sentences": ["One.", "Two.", "Three."]}, {"sentences": ["Only one."]}])
    asked: list[ModelMessage] = []

    def answer(messages: list[ModelMessage], info: AgentInfo) -> ModelResponse:
        asked.append(messages[-1])
        tool = info.output_tools[0]
        return ModelResponse(parts=[ToolCallPart(tool.name, json.dumps(next(answers)))])

    client = ModelClient(
        LlmConfig(provider="gemini", model="gemini-2.5-flash"), FunctionModel(answer)
    )
    summarize = agents_with(tmp_path, client)["text.summarize"]
    scope = CallScope(purpose="agent", execution_id="ex_1", step_id="s1")
    ctx = AgentContext(execution_id="ex_1", step_id="s1", model_scope=scope)
    out = await call(summarize, ctx, text=TEXT, max_sentences=1)
    assert out == {
        "summary": "Only one.",
        "sentences": ["Only one."],
        "engine": "model:gemini/gemini-2.5-flash",
    }
    assert "give at most 1" in str(asked[1])  # the problem went back to the model
    assert scope.spent.calls == 2  # both answers counted against the step's scope
