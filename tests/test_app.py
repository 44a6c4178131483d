"""The Python API: open an engine, register agents, run plans, stream events."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from baton import Baton, Plan, Settings, Step, agent
from baton.errors import ConfigError, PlanValidationError
from baton.events import ExecutionStatus

pytestmark = pytest.mark.anyio


@agent(description="Greet someone by name.")
async def greet(name: str) -> str:
    return f"hello {name}"


def settings(tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        workspace=tmp_path / "ws",
        plugins_dir=tmp_path / "plugins",
        **extra,  # type: ignore[arg-type]
    )


async def test_run_a_plan_with_a_python_agent(tmp_path: Path) -> None:
    async with Baton.open(settings(tmp_path), agents=[greet]) as b:
        plan = Plan(
            steps=[
                Step(id="hi", agent="greet", inputs={"name": "Dana"}),
                Step(
                    id="loud",
                    agent="text.transform",
                    inputs={"text": "${hi.result}", "operation": "upper"},
                ),
            ]
        )
        seen: list[str] = []
        result = await b.run(plan, on_event=lambda e: seen.append(e.kind))
        assert result.ok
        assert result.outputs["loud"]["text"] == "HELLO DANA"
        assert seen[0] == "execution_started"
        assert seen[-1] == "execution_finished"
        stored = await b.store.get_execution(result.execution_id)
        assert stored.status is ExecutionStatus.SUCCEEDED
    # State is durable: a new engine on the same data folder sees the execution.
    async with Baton.open(settings(tmp_path)) as b:
        again = await b.store.get_execution(result.execution_id)
        assert again.status is ExecutionStatus.SUCCEEDED
        assert (await b.store.get_steps(result.execution_id))[0].output == {"result": "hello Dana"}
        assert "greet" not in b.registry  # Python agents live only as long as their engine


async def test_events_as_an_async_iterator(tmp_path: Path) -> None:
    async with Baton.open(settings(tmp_path), agents=[greet], in_memory=True) as b:
        plan = Plan(steps=[Step(id="hi", agent="greet", inputs={"name": "Ada"})])
        kinds: list[str] = []
        async with b.start(plan) as run:
            async for event in run.events:
                kinds.append(event.kind)
        assert kinds == [
            "execution_started",
            "step_started",
            "step_succeeded",
            "execution_finished",
        ]
        assert run.result is not None
        assert run.result.outputs["hi"] == {"result": "hello Ada"}


async def test_invalid_plans_store_nothing(tmp_path: Path) -> None:
    async with Baton.open(settings(tmp_path), agents=[greet]) as b:
        with pytest.raises(PlanValidationError):
            await b.run(Plan(steps=[Step(id="a", agent="greet")]))
        assert await b.store.list_executions() == []


async def test_request_is_planned_and_run(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "notes.md").write_text(
        "Baton plans requests. It runs steps in parallel. It keeps durable state. "
        "Crashes lose nothing. Finished steps are never repeated."
    )
    async with Baton.open(settings(tmp_path)) as b:
        result = await b.run("read notes.md and summarize it in 2 sentences")
        assert result.ok, result.errors
        summary = next(o for o in result.outputs.values() if "summary" in o)
        assert summary["summary"].count(".") == 2
        record = await b.store.get_execution(result.execution_id)
        assert record.request == "read notes.md and summarize it in 2 sentences"


def read_only_folder(tmp_path: Path) -> Path:
    """A folder this process cannot write: chmod 500, or for root (who ignores modes) /sys."""
    if os.geteuid() == 0:
        return Path("/sys")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


async def test_read_only_data_folder_is_a_config_error(tmp_path: Path) -> None:
    ro = read_only_folder(tmp_path)
    with pytest.raises(ConfigError, match="is not writable"):
        async with Baton.open(Settings(data_dir=ro)):
            pass


async def test_data_folder_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ConfigError, match="data folder"):
        async with Baton.open(Settings(data_dir=f, workspace=tmp_path)):
            pass
