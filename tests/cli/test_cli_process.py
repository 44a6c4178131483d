"""Real processes: exit codes of the console script, and Ctrl-C during a run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]

SLOW = """
name: slow
steps:
  - {id: slow, agent: t.sleep, inputs: {seconds: 60, marker: started.txt}}
  - {id: after_slow, agent: t.echo, inputs: {text: "${slow.result}"}}
  - {id: quick, agent: t.echo, inputs: {text: done}}
"""


def baton_command(*args: str) -> list[str]:
    # The console script is installed by `pip install -e .` (scripts/setup) next to python.
    script = Path(sys.executable).parent / "baton"
    assert script.exists(), "the baton console script is not installed; run ./scripts/setup"
    return [str(script), *args]


def process_env(baton_env: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
    return {**env, **baton_env, "PYTHONUNBUFFERED": "1"}


def test_ctrl_c_cancels_running_steps_and_saves_state(
    cli: Cli, baton_env: dict[str, str], write_plan: WritePlan
) -> None:
    marker = Path(baton_env["BATON_WORKSPACE"]) / "started.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "run", "--yes", "--plan", str(write_plan(SLOW))],
        env=process_env(baton_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()

    assert proc.returncode == 130, out + err
    assert "cancelled; state saved, execution ex_" in out
    assert "Traceback" not in out + err
    shown = cli.json("executions", "show", cli.execution_id(out), "--json")
    assert shown["status"] == "cancelled"
    assert {s["step_id"]: s["status"] for s in shown["steps"]} == {
        "slow": "cancelled",
        "after_slow": "cancelled",
        "quick": "succeeded",
    }


@pytest.mark.parametrize(
    ("plan", "code", "needle"),
    [
        ("steps:\n  - {id: a, agent: t.echo, inputs: {text: hi}}\n", 0, "succeeded"),
        ("steps:\n  - {id: a, agent: t.fail}\n", 1, "boom"),
        ("steps:\n  - {id: a, agent: t.echo, depends_on: [a]}\n", 2, "depends on itself"),
    ],
    ids=["succeeded", "failed", "invalid"],
)
def test_console_script_exit_codes(
    baton_env: dict[str, str], write_plan: WritePlan, plan: str, code: int, needle: str
) -> None:
    done = subprocess.run(
        baton_command("run", "-y", "--plan", str(write_plan(plan))),
        env=process_env(baton_env),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == code, done.stdout + done.stderr
    assert needle in done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr


def test_python_dash_m_baton(baton_env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "baton", "--version"],
        env=process_env(baton_env),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("baton ")
