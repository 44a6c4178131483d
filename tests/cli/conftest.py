"""CLI fixtures: a private data folder, workspace and plugins folder per test."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from baton.cli import app

PLUGIN = """
import anyio
from baton.agents import AgentContext, agent
from baton.errors import AgentError


@agent(name="t.echo", description="Return the text it is given.")
async def echo(text: str) -> str:
    return text


@agent(name="t.fail", description="Always fails.")
async def fail(message: str = "boom") -> str:
    raise AgentError(message)


@agent(name="t.flaky", description="Fails retryably on its first attempt.")
async def flaky(ctx: AgentContext) -> str:
    if ctx.attempt == 1:
        raise AgentError("the first try fails", retryable=True)
    return "second try"


@agent(name="t.send", description="Send a message (not idempotent).", idempotent=False)
async def send(text: str) -> str:
    return "sent " + text


@agent(name="t.sleep", description="Write a marker file in the workspace, then sleep.")
async def sleep(ctx: AgentContext, seconds: float, marker: str = "") -> str:
    if marker:
        await anyio.Path(ctx.workspace / marker).write_text("started")
    ctx.progress(0.5, "sleeping")
    await anyio.sleep(seconds)
    return f"slept {seconds}"
"""

NOTES = (
    "Baton turns requests into plans. Plans are graphs of steps. "
    "Each step is done by an agent. Agents are found by discovery.\n"
)


class CliHarness:
    """Invokes the CLI in-process with a test's environment, plus small helpers."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.runner = CliRunner()

    def __call__(
        self, *args: str, env: dict[str, str] | None = None, input: str | None = None
    ) -> Result:
        """``cli("plan", "--json", "...")``; `env` adds to (or overrides) the test's."""
        return self.runner.invoke(app, list(args), env={**self.env, **(env or {})}, input=input)

    def json(self, *args: str) -> Any:
        """Run a command that must succeed and parse its stdout as JSON."""
        result = self(*args)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    @staticmethod
    def execution_id(output: str) -> str:
        """The execution id printed at the end of a run."""
        found = EXECUTION_ID.findall(output)
        assert found, output
        return found[-1]


EXECUTION_ID = re.compile(r"execution (ex_[0-9a-z]+)")


@pytest.fixture
def baton_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment for one isolated baton: data, workspace and plugins under tmp_path."""
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    workspace = tmp_path / "ws"
    plugins = tmp_path / "plugins"
    workspace.mkdir()
    plugins.mkdir()
    (plugins / "testagents.py").write_text(PLUGIN)
    (workspace / "notes.txt").write_text(NOTES)
    return {
        "BATON_DATA_DIR": str(tmp_path / "data"),
        "BATON_WORKSPACE": str(workspace),
        "BATON_PLUGINS_DIR": str(plugins),
        # Wide and plain, so assertions do not depend on wrapping or colour codes.
        "COLUMNS": "200",
        "NO_COLOR": "1",
        "TERM": "dumb",
    }


@pytest.fixture
def cli(baton_env: dict[str, str]) -> CliHarness:
    """The CLI, run in-process against this test's private baton."""
    return CliHarness(baton_env)


@pytest.fixture
def write_plan(tmp_path: Path) -> Callable[[str, str], Path]:
    """Write a plan document to a file and return its path."""

    def write(text: str, name: str = "plan.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write
