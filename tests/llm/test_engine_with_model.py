"""The engine with a model configured: it plans with it, text agents use it, every call is
counted per step and per execution, budgets hold, and a failed step is replanned.

The model is the fake provider server (Gemini's wire format) on loopback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from baton import Baton, Settings
from baton.errors import BudgetExceededError
from baton.events import ExecutionStatus, PlanRevised
from baton.llm.usage import Budget
from baton.planning.llm import LLMPlanner
from baton.planning.offline import OfflinePlanner
from support.fake_llm import FakeLLM, fake_llm, status, value

pytestmark = pytest.mark.anyio

READ_AND_SUMMARIZE: dict[str, Any] = {
    "name": "summarize the notes",
    "steps": [
        {"id": "read", "agent": "files.read", "inputs": {"path": "notes.txt"}},
        {
            "id": "sum",
            "agent": "text.summarize",
            "inputs": {"text": "${read.content}", "max_sentences": 1},
        },
    ],
}


def _settings(tmp_path: Path, fake: FakeLLM | None, **extra: object) -> Settings:
    ws = tmp_path / "ws"
    ws.mkdir(exist_ok=True)
    (ws / "notes.txt").write_text("The launch moved to May. Dana owns the agenda. Bring coffee.")
    return Settings(
        data_dir=tmp_path / "data",
        workspace=ws,
        plugins_dir=tmp_path / "plugins",
        llm_provider="gemini" if fake is not None else "none",
        llm_base_url=fake.base_url("gemini") if fake is not None else None,
        llm_max_retries=0,
        **extra,  # type: ignore[arg-type]
    )


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-real")


async def test_without_a_model_the_offline_planner_runs(tmp_path: Path) -> None:
    async with Baton.open(_settings(tmp_path, None)) as b:
        assert isinstance(b.planner, OfflinePlanner)
        assert b.model is None


async def test_model_plans_and_summarizes_and_usage_is_kept(tmp_path: Path) -> None:
    script = (
        value(READ_AND_SUMMARIZE, input_tokens=900, output_tokens=120),
        value({"sentences": ["The launch moved to May."]}, input_tokens=80, output_tokens=10),
    )
    async with fake_llm(*script) as fake, Baton.open(_settings(tmp_path, fake)) as b:
        assert isinstance(b.planner, LLMPlanner)
        plan = await b.plan("summarize notes.txt in one sentence")
        assert plan.provenance is not None
        assert (plan.provenance.planner, plan.provenance.provider) == ("llm", "gemini")
        assert (plan.provenance.input_tokens, plan.provenance.output_tokens) == (900, 120)
        result = await b.run(plan)
        assert result.status is ExecutionStatus.SUCCEEDED
        output = result.outputs["sum"]
        assert output["summary"] == "The launch moved to May."
        assert output["engine"].startswith("model:gemini/")
        usage = await b.usage(result.execution_id)
        assert usage.planning.tokens == 1020
        assert usage.steps["sum"].tokens == 90
        assert usage.total.tokens == 1110
        assert len(fake.requests) == 2
    # Recorded durably: a new engine on the same data folder reads the same figures.
    async with Baton.open(_settings(tmp_path, None)) as again:
        assert (await again.usage(result.execution_id)).steps["sum"].tokens == 90


async def test_budget_spent_by_planning_stops_the_step_that_calls_the_model(
    tmp_path: Path,
) -> None:
    script = (value(READ_AND_SUMMARIZE, input_tokens=900, output_tokens=120),)
    async with fake_llm(*script) as fake, Baton.open(_settings(tmp_path, fake)) as b:
        plan = await b.plan("summarize notes.txt", budget=Budget(max_tokens=1000))
        assert plan.budget == Budget(max_tokens=1000)
        result = await b.run(plan)
        assert result.status is ExecutionStatus.FAILED
        assert "budget is spent" in result.errors["sum"]
        record = await b.store.get_execution(result.execution_id)
        assert "model budget was reached" in (record.error or "")
        assert len(fake.requests) == 1  # the summarize step never reached the model


async def test_planning_stops_when_its_budget_is_spent(tmp_path: Path) -> None:
    bad = {"steps": [{"id": "x", "agent": "no.such.agent"}]}
    script = (value(bad, input_tokens=600, output_tokens=100), value(READ_AND_SUMMARIZE))
    async with fake_llm(*script) as fake, Baton.open(_settings(tmp_path, fake)) as b:
        with pytest.raises(BudgetExceededError, match="token budget"):
            await b.plan("summarize notes.txt", budget=Budget(max_tokens=500))
        assert len(fake.requests) == 1


async def test_failed_step_is_replanned_by_the_model(tmp_path: Path) -> None:
    failing = {
        "name": "fetch then summarize",
        "steps": [
            {"id": "read", "agent": "files.read", "inputs": {"path": "notes.txt"}},
            {"id": "missing", "agent": "files.read", "inputs": {"path": "no-such-file.txt"}},
        ],
    }
    revised = {
        "name": "summarize what there is",
        "steps": [
            {"id": "read", "agent": "files.read", "inputs": {"path": "notes.txt"}},
            {
                "id": "sum",
                "agent": "text.summarize",
                "inputs": {"text": "${read.content}", "max_sentences": 1},
            },
        ],
    }
    script = (
        value(failing),
        value(revised),
        value({"sentences": ["The launch moved to May."]}),
    )
    async with fake_llm(*script) as fake, Baton.open(_settings(tmp_path, fake)) as b:
        plan = await b.plan("read notes.txt and no-such-file.txt")
        events: list[Any] = []
        result = await b.run(plan, on_event=events.append)
        assert result.status is ExecutionStatus.SUCCEEDED, result.error
        revisions = [e for e in events if isinstance(e, PlanRevised)]
        assert [r.version for r in revisions] == [2]
        assert "missing" in revisions[0].reason
        record = await b.store.get_execution(result.execution_id)
        assert record.plan["version"] == 2
        assert len(fake.requests) == 3


async def test_provider_down_fails_planning_clearly(tmp_path: Path) -> None:
    async with fake_llm(status(500)) as fake, Baton.open(_settings(tmp_path, fake)) as b:
        with pytest.raises(Exception, match="gemini") as caught:
            await b.plan("summarize notes.txt")
        assert "Traceback" not in str(caught.value)
