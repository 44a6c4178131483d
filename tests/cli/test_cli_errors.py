"""Bad input never shows a traceback: a short message, a hint, and exit code 2."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from baton.cli import session
from baton.cli.errors import error_text
from baton.errors import PlanningError, PlanProblem, PlanValidationError

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]


def assert_usage_error(result: object, *needles: str) -> str:
    """Exit 2, each needle in the message, no traceback; returns the message."""
    exit_code: int = getattr(result, "exit_code")  # noqa: B009
    output: str = getattr(result, "output")  # noqa: B009
    assert exit_code == 2, output
    assert "Traceback" not in output
    for needle in needles:
        assert needle in output, output
    return output


PLAN_FILES = {
    "yaml_syntax": ("steps:\n  - id: a\n    agent: [t.echo\n", ["invalid YAML at line"]),
    "unknown_field": (
        "steps:\n  - {id: a, agent: t.echo, inputs: {text: x}, retries: 3}\n",
        ["unknown field", "retries"],
    ),
    "cycle": (
        "steps:\n"
        "  - {id: a, agent: t.echo, inputs: {text: x}, depends_on: [c]}\n"
        "  - {id: b, agent: t.echo, inputs: {text: x}, depends_on: [a]}\n"
        "  - {id: c, agent: t.echo, inputs: {text: x}, depends_on: [b]}\n",
        ["cycle", "a -> b -> c -> a"],
    ),
    "self_dependency": (
        "steps:\n  - {id: a, agent: t.echo, inputs: {text: x}, depends_on: [a]}\n",
        ["depends on itself"],
    ),
    "unknown_agent": (
        "steps:\n  - {id: a, agent: t.ecko, inputs: {text: x}}\n",
        ["unknown agent 't.ecko'", "did you mean 't.echo'"],
    ),
    "bad_inputs": ("steps:\n  - {id: a, agent: t.echo, inputs: {}}\n", ["text", "required"]),
    "empty": ("", ["empty"]),
}


@pytest.mark.parametrize("case", sorted(PLAN_FILES))
@pytest.mark.parametrize("command", ["run", "plan"])
def test_bad_plan_files(cli: Cli, write_plan: WritePlan, case: str, command: str) -> None:
    text, needles = PLAN_FILES[case]
    args = [command, "--plan", str(write_plan(text))] + (["--yes"] if command == "run" else [])

    assert_usage_error(cli(*args), "error:", *needles)
    assert cli.json("executions", "list", "--json") == []


def test_missing_plan_file(cli: Cli, tmp_path: Path) -> None:
    assert_usage_error(cli("run", "-y", "--plan", str(tmp_path / "nope.yaml")), "does not exist")


def test_empty_request(cli: Cli) -> None:
    assert_usage_error(cli("run", "-y", ""), "the request is empty", "hint:")


def test_huge_request_is_refused_briefly(cli: Cli) -> None:
    request = "read notes.txt and summarize it " * 40_000  # over a megabyte

    output = assert_usage_error(cli("plan", request), "the limit is")
    assert len(output) < 1_000


def test_request_that_is_not_understood_says_what_was(cli: Cli) -> None:
    output = assert_usage_error(
        cli("plan", "read notes.txt and then juggle seven flaming torches"),
        "understood:",
        "not understood:",
    )
    assert "juggle" in output


def test_no_request_and_no_plan(cli: Cli) -> None:
    assert_usage_error(cli("run", "-y"), "say what to do")


def test_data_folder_that_is_a_file(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    result = cli("executions", "list", env={"BATON_DATA_DIR": str(blocker)})

    assert_usage_error(result, "data folder", "BATON_DATA_DIR")


def test_data_folder_below_a_file(cli: Cli, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    result = cli("plan", "x", env={"BATON_DATA_DIR": str(blocker / "data")})

    assert_usage_error(result, "cannot create the data folder")


def test_read_only_data_folder(cli: Cli, tmp_path: Path) -> None:
    # Root ignores permission bits, so as root use a folder on a read-only mount (/sys).
    if os.geteuid() == 0:
        locked = Path("/sys")
    else:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)

    assert_usage_error(cli("executions", "list", env={"BATON_DATA_DIR": str(locked)}), "writ")


@pytest.mark.parametrize(
    ("name", "value"),
    [("BATON_MAX_CONCURRENCY", "0"), ("BATON_TIMEZONE", "Mars/Olympus_Mons")],
)
def test_invalid_settings(cli: Cli, name: str, value: str) -> None:
    assert_usage_error(cli("agents", "list", env={name: value}), "invalid settings", name)


@pytest.mark.parametrize(
    "args",
    [
        ["executions", "show", "ex_missing"],
        ["executions", "events", "ex_missing"],
        ["executions", "show", "ex_missing", "--json"],
        ["cancel", "ex_missing"],
    ],
)
def test_unknown_execution(cli: Cli, args: list[str]) -> None:
    assert_usage_error(cli(*args), "'ex_missing' not found", "baton executions list")


def test_unknown_agent_suggests_names(cli: Cli) -> None:
    assert_usage_error(cli("agents", "show", "files.raed"), "did you mean 'files.read'")


def test_typer_usage_errors_exit_2(cli: Cli) -> None:
    assert cli("executions", "list", "--limit", "0").exit_code == 2
    assert cli("executions", "list", "--status", "sleeping").exit_code == 2
    assert cli("frobnicate").exit_code == 2


def test_debug_shows_the_traceback(cli: Cli, tmp_path: Path) -> None:
    result = cli("--debug", "run", "-y", "--plan", str(tmp_path / "nope.yaml"))

    assert result.exit_code == 2
    assert "Traceback" in result.output
    assert "does not exist" in result.output


def test_internal_errors_are_one_line(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    def explode() -> None:
        raise RuntimeError("the flux capacitor\nis leaking")

    monkeypatch.setattr(session, "load_settings", explode)

    result = cli("agents", "list")
    assert result.exit_code == 1
    assert "internal error: RuntimeError: the flux capacitor" in result.stderr
    assert "leaking" not in result.stderr
    assert "run with --debug" in result.stderr
    assert "Traceback" not in result.output

    debug = cli("--debug", "agents", "list")
    assert debug.exit_code == 1
    assert "Traceback" in debug.stderr


def test_long_error_messages_are_clipped() -> None:
    many = PlanValidationError(
        [PlanProblem(code="x", message="y" * 5_000, step_id=f"s{i}") for i in range(500)]
    )
    text = error_text(many).plain
    assert len(text.splitlines()) < 40
    assert "more line(s)" in text
    assert max(len(line) for line in text.splitlines()) < 320

    planning = error_text(
        PlanningError("no", understood=["a"], not_understood=["b" * 10_000], hint="h")
    ).plain
    assert "understood: a" in planning
    assert "not understood: bbb" in planning
    assert len(planning) < 500
