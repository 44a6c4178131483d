"""Model usage and budgets in the CLI: `executions show` usage, --max-tokens and --max-cost."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from rich.console import Console, RenderableType

from baton.cli import remote
from baton.cli.source import PlanSource, read_source
from baton.cli.tables import execution_view
from baton.client import BatonClient
from baton.core.plan import Plan, Provenance, Step
from baton.core.spending import ExecutionUsage, budget_of, execution_usage, with_budget
from baton.errors import UsageError
from baton.events import ExecutionStatus, StepStatus
from baton.llm.usage import Budget, UsageTotals
from baton.settings import Settings
from baton.store.model_calls import MemoryModelCallStore, ModelCall
from baton.store.records import ExecutionRecord, StepRecord
from baton.wire import ExecutionDetail, ExecutionUsageOut, UsageOut
from support.api import Api, running_api

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

AT = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
REQUEST = "uppercase the text 'hello world'"


def text_of(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=200, no_color=True).print(renderable)
    return buffer.getvalue()


def record(plan: Plan) -> ExecutionRecord:
    return ExecutionRecord(
        id="ex_1",
        name="digest",
        request="read notes.txt and summarize it",
        plan=plan.model_dump(mode="json"),
        status=ExecutionStatus.SUCCEEDED,
        created_at=AT,
        started_at=AT,
        finished_at=AT,
    )


def step(step_id: str, agent: str) -> StepRecord:
    return StepRecord(
        execution_id="ex_1",
        step_id=step_id,
        agent=agent,
        position=0,
        status=StepStatus.SUCCEEDED,
        attempts=1,
        duration_s=0.5,
    )


PLAN = Plan(
    name="digest",
    steps=[
        Step(id="read", agent="files.read", inputs={"path": "notes.txt"}),
        Step(id="sum", agent="text.summarize", inputs={"text": "${read.content}"}),
    ],
    provenance=Provenance(
        planner="llm",
        provider="gemini",
        model="gemini-2.5-flash",
        calls=2,
        input_tokens=1000,
        output_tokens=200,
        cost_usd=0.0021,
    ),
    budget=Budget(max_tokens=20_000, max_cost_usd=0.5),
    version=2,
    revised_because="step read failed: notes.txt is missing",
)
STEPS = [step("read", "files.read"), step("sum", "text.summarize")]


# --- rendering -------------------------------------------------------------------------------


def test_show_has_usage_columns_and_totals_when_a_model_was_used() -> None:
    usage = execution_usage(
        PLAN,
        {
            "sum": UsageTotals(calls=1, input_tokens=300, output_tokens=50, cost_usd=0.0004),
            None: UsageTotals(calls=2, input_tokens=1000, output_tokens=200),  # planning
        },
    )
    out = text_of(execution_view(record(PLAN), STEPS, (), usage))
    header = next(line for line in out.splitlines() if line.startswith("step"))
    assert header.split() == [
        "step",
        "agent",
        "status",
        "attempts",
        "took",
        "tokens",
        "cost",
        "error",
    ]
    row = next(line for line in out.splitlines() if line.startswith("sum "))
    assert row.split()[-2:] == ["350", "$0.0004"]
    read_row = next(line for line in out.splitlines() if line.startswith("read "))
    assert read_row.split()[-2:] == ["-", "-"]
    # Planning (from the provenance, not counted twice) plus the step.
    assert "models     1,550 tokens (1,300 in, 250 out), $0.0025, 3 calls" in out
    assert "planning   1,200 tokens (1,000 in, 200 out), $0.0021, 2 calls" in out
    assert (
        "plan       version 2, planned by llm (gemini/gemini-2.5-flash); "
        "replanned: step read failed: notes.txt is missing"
    ) in out
    assert "budget     20,000 tokens, $0.5" in out


def test_show_without_a_model_has_no_usage_columns() -> None:
    plain = Plan(name="digest", steps=PLAN.steps)
    usage = execution_usage(plain, {})
    for shown in (
        text_of(execution_view(record(plain), STEPS, (), usage)),
        text_of(execution_view(record(plain), STEPS)),
    ):
        assert "tokens" not in shown
        assert "cost" not in shown
        assert "models" not in shown
        assert "replanned" not in shown
    assert "plan       version 1" in text_of(execution_view(record(plain), STEPS, (), usage))


def test_unpriced_calls_are_said() -> None:
    usage = ExecutionUsage(
        steps={
            "sum": UsageTotals(calls=2, input_tokens=10, output_tokens=5, unpriced_calls=2),
            "read": UsageTotals(
                calls=2, input_tokens=10, output_tokens=5, cost_usd=0.01, unpriced_calls=1
            ),
        }
    )
    out = text_of(execution_view(record(PLAN), STEPS, (), usage))
    assert next(x for x in out.splitlines() if x.startswith("sum ")).split()[-2:] == ["15", "?"]
    assert next(x for x in out.splitlines() if x.startswith("read ")).split()[-2:] == [
        "15",
        "$0.0100+",
    ]
    assert "$0.0100+, 4 calls (3 without a known price)" in out


# --- budgets ---------------------------------------------------------------------------------


def test_budget_of_checks_the_limits() -> None:
    assert budget_of(None, None) is None
    assert budget_of(500, None) == Budget(max_tokens=500)
    assert budget_of(None, 0.25) == Budget(max_cost_usd=0.25)
    for tokens, cost, needle in (
        (0, None, "--max-tokens must be a positive whole number"),
        (-5, None, "--max-tokens must be a positive whole number"),
        (None, 0.0, "--max-cost must be a positive amount"),
        (None, -1.0, "--max-cost must be a positive amount"),
        (None, float("nan"), "--max-cost must be a positive amount"),
        (None, float("inf"), "--max-cost must be a positive amount"),
    ):
        with pytest.raises(UsageError, match=needle):
            budget_of(tokens, cost)


def test_with_budget_replaces_only_when_given() -> None:
    assert with_budget(PLAN, None) is PLAN
    changed = with_budget(PLAN, Budget(max_tokens=7))
    assert changed.budget == Budget(max_tokens=7)
    assert PLAN.budget == Budget(max_tokens=20_000, max_cost_usd=0.5)  # the original is kept


def test_plan_and_run_take_the_budget_flags(cli: Cli) -> None:
    planned = cli.json("plan", "--json", REQUEST, "--max-tokens", "5000", "--max-cost", "0.25")
    assert planned["budget"] == {"max_tokens": 5000, "max_cost_usd": 0.25}
    shown = cli("plan", REQUEST, "--max-cost", "0.25")
    assert shown.exit_code == 0, shown.output
    assert "budget: $0.25" in shown.stdout

    result = cli("run", "-y", REQUEST, "--max-tokens", "900")
    assert result.exit_code == 0, result.output
    ex = cli.execution_id(result.stdout)
    detail = cli.json("executions", "show", ex, "--json")
    assert detail["plan"]["budget"] == {"max_tokens": 900, "max_cost_usd": None}
    assert detail["plan_version"] == 1
    assert detail["usage"]["total"]["calls"] == 0
    table = cli("executions", "show", ex)
    assert "budget     900 tokens" in table.stdout
    header = next(line for line in table.stdout.splitlines() if line.startswith("step"))
    assert "tokens" not in header  # no usage columns: no model ran


@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--max-tokens", "0"], "--max-tokens must be a positive whole number"),
        (["--max-cost", "-2"], "--max-cost must be a positive amount"),
        (["--max-cost", "nan"], "--max-cost must be a positive amount"),
    ],
)
def test_bad_budget_flags_are_refused(cli: Cli, flags: list[str], needle: str) -> None:
    for command in ("plan", "run"):
        result = cli(command, REQUEST, *flags)
        assert result.exit_code == 2, result.output
        assert needle in result.output
        assert "Traceback" not in result.output


def test_a_plan_file_gets_the_flags_budget(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(
        with_budget(
            Plan(
                name="p",
                steps=[
                    Step(id="a", agent="text.transform", inputs={"text": "x", "operation": "upper"})
                ],
            ),
            Budget(max_tokens=1),
        ).model_dump_json()
    )
    planned = cli.json("plan", "--json", "--plan", str(path), "--max-cost", "3")
    assert planned["budget"] == {"max_cost_usd": 3.0}


# --- against a server ------------------------------------------------------------------------


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    async with running_api(settings) as running:
        yield running


@pytest.mark.anyio
async def test_remote_plan_and_run_send_the_budget(api: Api, tmp_path: Path) -> None:
    source = read_source(REQUEST, None, max_tokens=1234, max_cost=0.75)
    async with BatonClient(api.url, api_key=api.admin_key) as client:
        shown = await remote.preview(client, source)
        assert shown.plan["budget"] == {"max_tokens": 1234, "max_cost_usd": 0.75}
        detail = await client.orchestrate(REQUEST, max_tokens=99)
        assert detail.execution is not None
        stored = await api.baton.store.get_execution(detail.execution.id)
        assert stored.plan["budget"] == {"max_tokens": 99, "max_cost_usd": None}
        file_source = PlanSource(plan=Plan.model_validate(stored.plan), budget=Budget(max_tokens=5))
        again = await remote.preview(client, file_source)
        assert again.plan["budget"] == {"max_tokens": 5}


def test_remote_usage_is_read_back_from_the_execution_view() -> None:
    totals = UsageOut(calls=1, input_tokens=30, output_tokens=12, cost_usd=0.002)
    detail = ExecutionDetail(
        id="ex_1",
        name="digest",
        request=None,
        status=ExecutionStatus.SUCCEEDED,
        created_at=AT,
        workspace_id="ws_1",
        plan=PLAN.model_dump(mode="json"),
        plan_version=2,
        usage=ExecutionUsageOut(planning=totals, steps={"sum": totals}, total=totals),
    )
    usage = remote.usage_record(detail)
    assert usage.steps["sum"].tokens == 42
    assert usage.planning.cost_usd == 0.002
    assert (usage.plan_version, usage.revised_because) == (2, PLAN.revised_because)
    older = remote.usage_record(detail.model_copy(update={"usage": None}))
    assert older.planning.tokens == 1200  # from the plan's provenance
    assert older.steps == {}


@pytest.mark.anyio
async def test_usage_per_step_from_the_model_call_store() -> None:
    calls = MemoryModelCallStore()
    for step_id, tokens in (("sum", 100), ("sum", 50), ("read", 10), (None, 999)):
        await calls.add(
            ModelCall(
                provider="gemini",
                model="gemini-2.5-flash",
                purpose="agent" if step_id else "replan",
                input_tokens=tokens,
                execution_id="ex_1",
                step_id=step_id,
                cost_usd=0.001,
            )
        )
    usage = execution_usage(PLAN, await calls.totals_by_step("ex_1"))
    assert {k: v.tokens for k, v in usage.steps.items()} == {"sum": 150, "read": 10}
    # Calls outside steps are planning, counted once, from the plan's provenance.
    assert usage.total.tokens == 1200 + 160
    assert usage.total.calls == 2 + 3
