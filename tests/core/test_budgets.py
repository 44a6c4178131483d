"""Per-execution model budgets: each step attempt gets a scope; a spent budget fails the step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from pydantic import BaseModel

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.ladder import LadderPolicy
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, Provenance, RetryPolicy, Step, StepPolicy
from baton.core.replanning import Replanner
from baton.errors import ErrorClass, Rung
from baton.events import (
    ExecutionStatus,
    PlanRevised,
    RunEvent,
    StepFailed,
    StepInDoubt,
    StepRecovery,
    StepRetrying,
    StepStatus,
)
from baton.llm.protocol import CallScope
from baton.llm.usage import Budget, ModelCall, UsageTotals, check_budget
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio


class FakeModel:
    """Stands in for the model client: checks the scope's budget, then "spends" tokens.

    Its `calls` are what the model-call store would hold.
    """

    provider = "fake"
    model_name = "fake-1"

    def __init__(self, tokens_per_call: int = 60) -> None:
        self.tokens_per_call = tokens_per_call
        self.calls: list[ModelCall] = []
        self.scopes: list[CallScope] = []

    async def complete(self, *, instructions: str, prompt: str, scope: CallScope) -> str:
        self.scopes.append(scope)
        check_budget(scope.budget, scope.spent)
        call = ModelCall(
            provider=self.provider,
            model=self.model_name,
            purpose=scope.purpose,
            input_tokens=self.tokens_per_call // 2,
            output_tokens=self.tokens_per_call - self.tokens_per_call // 2,
            cost_usd=0.01,
            execution_id=scope.execution_id,
            step_id=scope.step_id,
        )
        self.calls.append(call)
        scope.spent.add(call)
        return prompt.upper()

    async def usage_of(self, execution_id: str) -> UsageTotals:
        return UsageTotals.of([c for c in self.calls if c.execution_id == execution_id])


class Said(BaseModel):
    text: str


MODEL = FakeModel()


@agent(description="Say a text through the model.", capability="say")
async def say(text: str, ctx: AgentContext) -> Said:
    assert ctx.model_scope is not None
    return Said(text=await MODEL.complete(instructions="say", prompt=text, scope=ctx.model_scope))


@agent(description="Say a text through the model, the other way.", capability="say")
async def say_too(text: str, ctx: AgentContext) -> Said:
    assert ctx.model_scope is not None
    return Said(text=await MODEL.complete(instructions="say", prompt=text, scope=ctx.model_scope))


@pytest.fixture
def model(registry: AgentRegistry) -> FakeModel:
    MODEL.calls.clear()
    MODEL.scopes.clear()
    registry.register(say)
    registry.register(say_too)
    return MODEL


RETRYING = StepPolicy(retry=RetryPolicy(max_attempts=3, initial_delay_s=0.001, jitter=0.0))


def chain(budget: Budget | None, provenance: Provenance | None = None) -> Plan:
    """Three model steps in a row (60 tokens each) and one plain step after them."""
    return Plan(
        steps=[
            Step(id="s1", agent="say", inputs={"text": "one"}, policy=RETRYING),
            Step(id="s2", agent="say", inputs={"text": "${s1.text}"}, policy=RETRYING),
            Step(id="s3", agent="say", inputs={"text": "${s2.text}"}, policy=RETRYING),
            Step(id="after", agent="echo", inputs={"text": "${s3.text}"}),
            Step(id="free", agent="echo", inputs={"text": "independent"}),
        ],
        budget=budget,
        provenance=provenance,
        # Even a ladder that asks a person, or tries another agent, must not for a budget.
        recovery={ErrorClass.PERMANENT: [Rung.RETRY, Rung.ALTERNATIVE, Rung.ASK]},
    )


def orchestrator(
    registry: AgentRegistry, model: FakeModel, **options: Any
) -> tuple[Orchestrator, MemoryExecutionStore]:
    store = MemoryExecutionStore()
    executor = Executor(
        registry,
        store,
        options=ExecutorOptions(usage_of=model.usage_of, **options),
        recovery=LadderPolicy(registry),
    )
    return Orchestrator(registry, store, executor), store


async def run(o: Orchestrator, plan: Plan) -> tuple[ExecutionResult, list[RunEvent]]:
    events: list[RunEvent] = []
    result = await o.run(plan, on_event=events.append)
    return result, events


def recording_replanner(asked: list[str]) -> Replanner:
    """A replanner that notes why it was asked into `asked` and keeps the plan as it is."""

    async def replanner(
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        spent: UsageTotals,
    ) -> Plan:
        asked.append(reason)
        return plan

    return replanner


async def test_a_budget_reached_mid_execution_fails_the_step_that_calls_a_model(
    registry: AgentRegistry, model: FakeModel
) -> None:
    o, store = orchestrator(registry, model)
    result, events = await run(o, chain(Budget(max_tokens=100)))

    assert result.status is ExecutionStatus.FAILED
    assert result.steps == {
        "s1": StepStatus.SUCCEEDED,
        "s2": StepStatus.SUCCEEDED,  # 60 spent before it: under 100, so its call was made
        "s3": StepStatus.FAILED,  # 120 spent before it
        "after": StepStatus.SKIPPED,
        "free": StepStatus.SUCCEEDED,
    }
    assert len(model.calls) == 2
    failed = next(e for e in events if isinstance(e, StepFailed))
    assert (failed.step_id, failed.error_type, failed.attempts) == ("s3", "BudgetExceededError", 1)
    assert failed.error == "the token budget is spent: 120 of 100 tokens used"
    assert not any(isinstance(e, StepRetrying | StepRecovery | StepInDoubt) for e in events)
    record = await store.get_execution(result.execution_id)
    assert record.error == (
        "the execution's model budget was reached: step 's3' failed: "
        "the token budget is spent: 120 of 100 tokens used"
    )


async def test_each_attempt_gets_a_scope_with_the_budget_and_what_is_spent(
    registry: AgentRegistry, model: FakeModel
) -> None:
    o, _ = orchestrator(registry, model)
    budget = Budget(max_cost_usd=1.0)
    planning = Provenance(planner="llm", calls=1, input_tokens=7, output_tokens=3, cost_usd=0.5)
    result, _ = await run(o, chain(budget, planning))

    assert result.ok
    s1, s2, s3 = model.scopes
    assert (s1.purpose, s1.execution_id, s1.step_id) == ("agent", result.execution_id, "s1")
    assert s1.budget == budget
    # Planning counts as spent before any step; each step adds what the earlier ones spent.
    assert (s1.spent.calls, s2.spent.calls, s3.spent.calls) == (2, 3, 4)
    assert s1.spent.input_tokens == 7 + 30
    assert s3.spent.cost_usd == pytest.approx(0.5 + 3 * 0.01)


async def test_planning_alone_can_spend_the_budget(
    registry: AgentRegistry, model: FakeModel
) -> None:
    o, _ = orchestrator(registry, model)
    planning = Provenance(planner="llm", calls=3, input_tokens=80, output_tokens=20)
    result, _ = await run(o, chain(Budget(max_tokens=100), planning))

    assert result.status is ExecutionStatus.FAILED
    assert result.steps["s1"] is StepStatus.FAILED
    assert result.steps["free"] is StepStatus.SUCCEEDED
    assert model.calls == []
    assert result.errors["s1"] == "the token budget is spent: 100 of 100 tokens used"


async def test_without_a_budget_nothing_changes(registry: AgentRegistry, model: FakeModel) -> None:
    asked: list[str] = []

    async def usage_of(execution_id: str) -> UsageTotals:
        asked.append(execution_id)
        return await model.usage_of(execution_id)

    store = MemoryExecutionStore()
    executor = Executor(registry, store, options=ExecutorOptions(usage_of=usage_of))
    result, _ = await run(Orchestrator(registry, store, executor), chain(None))

    assert result.ok
    assert len(model.calls) == 3
    assert all(s.budget is None for s in model.scopes)
    assert asked == []  # no budget to check: the store is not asked what was spent


async def test_a_budget_failure_is_not_replanned(registry: AgentRegistry, model: FakeModel) -> None:
    asked: list[str] = []
    replanner = recording_replanner(asked)

    o, _ = orchestrator(registry, model, replanner=replanner)
    result, events = await run(o, chain(Budget(max_tokens=100)))

    assert result.status is ExecutionStatus.FAILED
    assert asked == []
    assert not any(isinstance(e, PlanRevised) for e in events)


async def test_no_replanning_once_the_budget_is_spent(
    registry: AgentRegistry, model: FakeModel
) -> None:
    asked: list[str] = []
    replanner = recording_replanner(asked)

    o, store = orchestrator(registry, model, replanner=replanner)
    plan = Plan(
        steps=[
            Step(id="s1", agent="say", inputs={"text": "one"}),
            Step(id="bad", agent="broken", depends_on=["s1"]),
        ],
        budget=Budget(max_tokens=50),
    )
    result, _ = await run(o, plan)

    assert result.status is ExecutionStatus.FAILED
    assert asked == []
    record = await store.get_execution(result.execution_id)
    assert record.error == (
        "step 'bad' failed: broken on purpose; replanning failed: "
        "the token budget is spent: 60 of 50 tokens used"
    )


async def test_the_replanner_is_told_what_the_execution_spent(
    registry: AgentRegistry, model: FakeModel
) -> None:
    told: list[UsageTotals] = []
    s1 = Step(id="s1", agent="say", inputs={"text": "one"})

    async def replanner(
        plan: Plan,
        *,
        finished: Mapping[str, dict[str, Any]],
        failed: Mapping[str, str],
        reason: str,
        spent: UsageTotals,
    ) -> Plan:
        told.append(spent)
        return Plan(steps=[s1, Step(id="ok", agent="echo", inputs={"text": "${s1.text}"})])

    o, _ = orchestrator(registry, model, replanner=replanner)
    plan = Plan(
        steps=[s1, Step(id="bad", agent="broken", depends_on=["s1"])],
        budget=Budget(max_tokens=1000),
        provenance=Provenance(planner="llm", calls=1, input_tokens=10, output_tokens=5),
    )
    result, _ = await run(o, plan)

    assert result.ok
    assert result.outputs["ok"] == {"text": "ONE"}
    assert [(t.calls, t.tokens) for t in told] == [(2, 15 + 60)]
