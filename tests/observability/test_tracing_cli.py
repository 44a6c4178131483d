"""``baton traces show``: the span tree of an execution kept in the database."""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import pytest
from typer.testing import CliRunner

from baton.agents import AgentRegistry, agent
from baton.cli import app
from baton.core.executor import Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.errors import AgentError
from baton.observability.tracing import setup_tracing
from baton.settings import Settings
from baton.store.sql.database import open_database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.schema import create_schema
from baton.store.sql.traces import SqlTraceStore


@agent(description="Sleep for a while.")
async def nap(seconds: float = 0.0) -> float:
    await anyio.sleep(seconds)
    return seconds


def traced_run(settings: Settings) -> str:
    """Run a plan (one step retried once) with tracing into the database; its id."""
    calls = {"n": 0}

    @agent(description="Fails once, then works.")
    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AgentError("first try fails", retryable=True)
        return "ok"

    registry = AgentRegistry()
    registry.register(nap)
    registry.register(flaky)
    plan = Plan(
        steps=[
            Step(id="a", agent="nap", inputs={"seconds": 0.02}),
            Step(
                id="b",
                agent="flaky",
                depends_on=["a"],
                policy=StepPolicy(retry=RetryPolicy(max_attempts=2, initial_delay_s=0.0)),
            ),
        ]
    )

    async def main() -> str:
        settings.prepare_data_dir()
        db = open_database(settings.resolved_database_url)
        try:
            await create_schema(db)
            tracing = setup_tracing(settings, SqlTraceStore(db))
            assert tracing.interceptor is not None
            store = tracing.wrap_store(SqlExecutionStore(db), system="sqlite")
            options = ExecutorOptions(interceptors=(tracing.interceptor,))
            try:
                result = await Orchestrator(
                    registry, store, Executor(registry, store, options=options)
                ).run(plan)
            finally:
                await tracing.shutdown()
            assert result.ok
            return result.execution_id
        finally:
            await db.dispose()

    return anyio.run(main)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    (tmp_path / "plugins").mkdir()
    return {
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_WORKSPACE": str(tmp_path),
        "BATON_PLUGINS_DIR": str(tmp_path / "plugins"),
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


@pytest.fixture
def execution_id(env: dict[str, str], tmp_path: Path) -> str:
    settings = Settings(data_dir=Path(env["BATON_DATA_DIR"]), workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    return traced_run(settings)


def test_show_prints_the_span_tree_with_durations_errors_and_events(
    env: dict[str, str], execution_id: str
) -> None:
    result = CliRunner().invoke(app, ["traces", "show", execution_id], env=env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"trace of {execution_id}"

    def line(prefix: str, nth: int = 0) -> str:
        found = [ln for ln in lines if ln.lstrip("│├└─ ").startswith(prefix)]
        assert len(found) > nth, result.stdout
        return found[nth]

    def indent(text: str) -> int:
        return len(text) - len(text.lstrip("│├└─ "))

    root = line("execution")
    step_a, first_b, second_b = line("step a"), line("step b", 0), line("step b", 1)
    assert indent(step_a) == indent(first_b) > indent(root)
    assert " ms" in step_a
    assert "agent=nap attempt=1" in step_a
    assert "error (AgentError: first try fails)" in first_b
    assert "[2 event(s): exception, step_retrying]" in first_b
    assert "error" not in second_b
    assert "attempt=2" in second_b
    # Depth first: each step's line comes after the root's.
    assert lines.index(root) < lines.index(step_a) < lines.index(first_b) < lines.index(second_b)


def test_show_json_gives_the_spans_depth_first(env: dict[str, str], execution_id: str) -> None:
    result = CliRunner().invoke(app, ["traces", "show", execution_id, "--json"], env=env)
    assert result.exit_code == 0, result.output
    body = json.loads(result.stdout)
    assert body["execution_id"] == execution_id
    spans = body["spans"]
    assert (spans[0]["name"], spans[0]["depth"]) == ("execution", 0)
    steps = [s for s in spans if s["name"].startswith("step ")]
    assert [s["name"] for s in steps] == ["step a", "step b", "step b"]
    assert all(s["parent_span_id"] == spans[0]["span_id"] for s in steps)
    assert steps[0]["duration_s"] >= 0.02
    assert [e["name"] for e in steps[1]["events"]] == ["exception", "step_retrying"]
    assert steps[1]["status"] == "error"


def test_show_names_an_unknown_execution(env: dict[str, str], execution_id: str) -> None:
    result = CliRunner().invoke(app, ["traces", "show", "ex_nope"], env=env)
    assert result.exit_code != 0
    assert "ex_nope" in result.output
    assert "not found" in result.output
