"""The CLI against a live server (``BATON_URL``): the same commands, through `baton.client`.

The server runs in a thread of its own (a blocking portal) so that `CliRunner`, which is
synchronous and starts its own event loop per command, can talk to it as a real process would.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal

from baton.cli import remote
from baton.cli.commands import run as run_module
from baton.events import ExecutionStatus
from baton.settings import Settings
from support.api import Api, running_api

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

WritePlan = Callable[..., Path]

CHAIN = """
name: remote chain
steps:
  - {id: first, agent: text.transform, inputs: {text: hello, operation: upper}}
  - {id: second, agent: text.transform, inputs: {text: "${first.text} world", operation: lower}}
"""

FAILING = """
name: broken
steps:
  - {id: read, agent: files.read, inputs: {path: missing.txt}}
  - {id: after, agent: text.transform, inputs: {text: "${read.content}", operation: upper}}
"""

GATED = """
name: gated
steps:
  - {id: draft, agent: text.transform, inputs: {text: hi dana, operation: upper}}
  - id: send
    agent: notify.send
    inputs: {to: dana@example.com, message: "${draft.text}"}
    depends_on: [draft]
    policy: {critical: true}
"""

REQUEST = "read notes.txt and summarize it"


class Server:
    """A live API server running in its own thread, and how to reach it."""

    def __init__(self, api: Api, portal: BlockingPortal) -> None:
        self.api = api
        self.portal = portal

    @property
    def url(self) -> str:
        return self.api.url

    def status(self, execution_id: str) -> ExecutionStatus:
        return self.portal.call(self.api.baton.store.get_execution, execution_id).status

    def key_for(self, role: str) -> str:
        async def make() -> str:
            async with self.api.client(self.api.admin_key) as http:
                user = (
                    await http.post("/api/workspace/members", json={"name": role, "role": role})
                ).json()
                created = await http.post(
                    "/api/workspace/keys", json={"name": f"{role} key", "user_id": user["id"]}
                )
                token: str = created.json()["token"]
                return token

        return self.portal.call(make)


@pytest.fixture
def server(baton_env: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """A server whose workspace is the test's (notes.txt is in it); its data is elsewhere."""
    settings = Settings(
        data_dir=tmp_path / "server-data",
        workspace=Path(baton_env["BATON_WORKSPACE"]),
        _env_file=None,  # type: ignore[call-arg]
    )
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(running_api(settings)) as api,
    ):
        yield Server(api, portal)


@pytest.fixture
def rcli(cli: Cli, server: Server) -> Cli:
    """The CLI, pointed at the server with the first admin's key."""
    cli.env = {**cli.env, "BATON_URL": server.url, "BATON_API_KEY": server.api.admin_key}
    return cli


def assert_no_local_state(baton_env: dict[str, str]) -> None:
    assert not Path(baton_env["BATON_DATA_DIR"]).exists()  # nothing was opened locally


def test_run_a_plan_file_then_read_it_back(
    rcli: Cli, server: Server, write_plan: WritePlan, baton_env: dict[str, str]
) -> None:
    result = rcli("run", "--yes", "--plan", str(write_plan(CHAIN)))

    assert result.exit_code == 0, result.output
    assert "hello world" in result.stdout  # the result of the last step
    assert "started   first" in result.stdout  # the line view, fed by the stream
    assert "succeeded second" in result.stdout
    assert f"on {server.url}" in result.stderr
    ex = rcli.execution_id(result.stdout)
    assert server.status(ex) is ExecutionStatus.SUCCEEDED  # it ran on the server

    shown = rcli.json("executions", "show", ex, "--json")
    assert shown["status"] == "succeeded"
    assert shown["plan"]["name"] == "remote chain"
    assert [(s["step_id"], s["status"]) for s in shown["steps"]] == [
        ("first", "succeeded"),
        ("second", "succeeded"),
    ]
    assert shown["steps"][1]["output"] == {"text": "hello world"}
    events = rcli.json("executions", "events", ex, "--json")
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert events[0]["kind"] == "execution_started"
    assert events[-1]["kind"] == "execution_finished"
    assert [e["id"] for e in rcli.json("executions", "list", "--json")] == [ex]
    table = rcli("executions", "show", ex)
    assert table.exit_code == 0, table.output
    assert "remote chain" in table.stdout
    assert_no_local_state(baton_env)


def test_run_a_request_planned_by_the_server(rcli: Cli, server: Server) -> None:
    result = rcli("run", "-y", REQUEST)

    assert result.exit_code == 0, result.output
    assert "files.read" in result.stdout  # the plan tree the server made
    ex = rcli.execution_id(result.stdout)
    [listed] = rcli.json("executions", "list", "--json")
    assert listed["id"] == ex
    assert listed["request"] == REQUEST


def test_run_shows_the_plan_and_runs_what_was_confirmed(
    rcli: Cli, server: Server, write_plan: WritePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    refused = rcli("run", "--plan", str(write_plan(CHAIN)))
    assert refused.exit_code == 2
    assert "remote chain" in refused.stdout  # the preview came first
    assert "--yes" in refused.output
    assert rcli.json("executions", "list", "--json") == []  # nothing started

    monkeypatch.setattr(run_module, "_interactive", lambda: True)
    declined = rcli("run", "--plan", str(write_plan(CHAIN)), input="n\n")
    assert declined.exit_code == 1
    assert rcli.json("executions", "list", "--json") == []
    accepted = rcli("run", "--plan", str(write_plan(CHAIN)), input="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert "hello world" in accepted.stdout


def test_a_failed_run_exits_1_with_the_errors(
    rcli: Cli, server: Server, write_plan: WritePlan
) -> None:
    result = rcli("run", "-y", "--plan", str(write_plan(FAILING)))

    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert "missing.txt" in result.stdout
    assert "after skipped" in result.stdout
    assert server.status(rcli.execution_id(result.stdout)) is ExecutionStatus.FAILED


def test_ctrl_c_cancels_the_execution_on_the_server(
    rcli: Cli, server: Server, write_plan: WritePlan, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(remote, "follow", interrupted)

    result = rcli("run", "-y", "--plan", str(write_plan(GATED)))

    assert result.exit_code == 130, result.output
    assert "cancelled; state saved, execution" in result.stdout
    ex = rcli.execution_id(result.stdout)
    record = server.portal.call(server.api.baton.store.get_execution, ex)
    assert record.cancel_requested or record.status is ExecutionStatus.CANCELLED


def test_a_gated_step_waits_then_approve_follows_the_rest(
    rcli: Cli, server: Server, write_plan: WritePlan
) -> None:
    result = rcli("run", "-y", "--plan", str(write_plan(GATED)))
    assert result.exit_code == 1, result.output  # not succeeded (yet): it waits
    ex = rcli.execution_id(result.stdout)
    assert server.status(ex) is ExecutionStatus.WAITING

    [pending] = rcli.json("approvals", "list", "--json")
    assert (pending["execution_id"], pending["step_id"]) == (ex, "send")
    assert pending["impact"]["targets"] == ["dana@example.com"]
    listed = rcli("approvals", "list")
    assert pending["id"] in listed.stdout
    assert "dana@example.com" in listed.stdout

    edited = '{"to": "dana@example.com", "message": "edited"}'
    approved = rcli("approve", pending["id"], "--edit-inputs", edited)
    assert approved.exit_code == 0, approved.output
    assert f"approved {pending['id']} with edited inputs" in approved.stdout
    assert "succeeded send" in approved.stdout  # the resumed run, followed live
    assert server.status(ex) is ExecutionStatus.SUCCEEDED
    assert rcli.json("approvals", "list", "--json") == []
    again = rcli("approve", pending["id"])
    assert again.exit_code == 2
    assert "Traceback" not in again.output


def test_reject_with_and_without_resuming(rcli: Cli, server: Server, write_plan: WritePlan) -> None:
    ex = rcli.execution_id(rcli("run", "-y", "--plan", str(write_plan(GATED))).stdout)
    [pending] = rcli.json("approvals", "list", "--json")

    held = rcli("reject", pending["id"], "--reason", "not today", "--no-resume")
    assert held.exit_code == 0, held.output
    assert f"rejected {pending['id']}" in held.stdout
    assert server.status(ex) is ExecutionStatus.WAITING

    [decided] = rcli.json("approvals", "list", "--all", "--json")
    assert decided["decision_reason"] == "not today"


def test_reject_resumes_and_the_step_fails(
    rcli: Cli, server: Server, write_plan: WritePlan
) -> None:
    ex = rcli.execution_id(rcli("run", "-y", "--plan", str(write_plan(GATED))).stdout)
    [pending] = rcli.json("approvals", "list", "--json")

    rejected = rcli("reject", pending["id"], "--reason", "not today")

    assert rejected.exit_code == 1, rejected.output
    assert "not today" in rejected.stdout
    assert server.status(ex) is ExecutionStatus.FAILED


def test_cancel(rcli: Cli, server: Server, write_plan: WritePlan) -> None:
    waiting = rcli.execution_id(rcli("run", "-y", "--plan", str(write_plan(GATED))).stdout)
    done = rcli.execution_id(rcli("run", "-y", "--plan", str(write_plan(CHAIN))).stdout)

    asked = rcli("cancel", waiting)
    finished = rcli("cancel", done)

    assert asked.exit_code == 0, asked.output
    assert f"cancelled execution {waiting}" in asked.stdout  # nobody ran it: cancelled at once
    assert server.status(waiting) is ExecutionStatus.CANCELLED
    assert finished.exit_code == 2
    assert "already succeeded" in finished.stderr


def test_agents_list_and_show(rcli: Cli, server: Server) -> None:
    agents = {a["name"]: a for a in rcli.json("agents", "list", "--json")}
    assert agents["files.read"]["source"] == "builtin"
    assert "t.echo" not in agents  # the server's registry, not this machine's plugins
    assert "input_schema" not in agents["files.read"]
    assert set(agents["files.read"]) >= {"name", "description", "risk", "idempotent", "stats"}
    table = rcli("agents", "list")
    assert table.exit_code == 0, table.output
    assert "notify.send" in table.stdout

    detail = rcli.json("agents", "show", "notify.send", "--json")
    assert "to" in detail["input_schema"]["properties"]
    shown = rcli("agents", "show", "notify.send")
    assert "inputs (JSON schema)" in shown.stdout
    missing = rcli("agents", "show", "notify.sned")
    assert missing.exit_code == 2
    assert "notify.send" in missing.stderr  # the server's hint: the closest names


def test_problems_print_like_local_errors(rcli: Cli, server: Server, write_plan: WritePlan) -> None:
    missing = rcli("executions", "show", "ex_nope")
    assert missing.exit_code == 2
    assert "error: execution ex_nope not found" in missing.stderr
    assert "hint:" in missing.stderr  # the server's hint came along
    assert "Traceback" not in missing.output

    invalid = rcli(
        "run", "-y", "--plan", str(write_plan("steps:\n  - {id: a, agent: text.transfrom}\n"))
    )
    assert invalid.exit_code == 2
    assert "the plan is invalid (1 problem(s))" in invalid.stderr
    assert "text.transform" in invalid.stderr  # the closest agent, from the server
    assert rcli.json("executions", "list", "--json") == []


def test_keys_that_do_not_work(rcli: Cli, server: Server, write_plan: WritePlan) -> None:
    wrong = rcli("executions", "list", env={"BATON_API_KEY": "baton_not_a_key"})
    assert wrong.exit_code == 2
    assert f"the server at {server.url} refused BATON_API_KEY" in wrong.stderr
    assert "a valid API key is required" in wrong.stderr
    assert "check BATON_API_KEY" in wrong.stderr

    unset = rcli("executions", "list", env={"BATON_API_KEY": ""})
    assert unset.exit_code == 2
    assert "BATON_API_KEY is not" in unset.stderr
    assert "baton serve" in unset.stderr  # how to get one

    viewer = server.key_for("viewer")
    assert rcli("executions", "list", env={"BATON_API_KEY": viewer}).exit_code == 0
    denied = rcli("run", "-y", "--plan", str(write_plan(CHAIN)), env={"BATON_API_KEY": viewer})
    assert denied.exit_code == 1
    assert "the viewer role may not" in denied.stderr
    assert "Traceback" not in denied.output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def test_an_unreachable_server(cli: Cli, baton_env: dict[str, str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"

    result = cli("executions", "list", env={"BATON_URL": url, "BATON_API_KEY": "k"})

    assert result.exit_code == 2
    assert f"cannot reach the baton server at {url}: connection refused" in result.stderr
    assert "baton serve" in result.stderr
    assert "Traceback" not in result.output
    assert_no_local_state(baton_env)


def test_local_only_commands_refuse_while_baton_url_is_set(
    rcli: Cli, baton_env: dict[str, str]
) -> None:
    for args in (
        ["recover"],
        ["resolve", "ex_1", "s", "--skip"],
        ["executions", "compact", "ex_1"],
    ):
        result = rcli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "works on the local engine only, and BATON_URL is set" in result.stderr
        assert "unset BATON_URL" in result.stderr
    assert_no_local_state(baton_env)


def test_plan_goes_through_the_server(rcli: Cli, server: Server) -> None:
    planned = rcli("plan", REQUEST)

    assert planned.exit_code == 0, planned.output
    assert "files.read" in planned.stdout
    assert "critical path:" in planned.stdout
    assert "estimate: ~" in planned.stdout
    assert rcli.json("executions", "list", "--json") == []  # nothing ran


def test_resume_goes_through_the_server(rcli: Cli, server: Server, write_plan: WritePlan) -> None:
    ex = rcli.execution_id(rcli("run", "-y", "--plan", str(write_plan(GATED))).stdout)
    [pending] = rcli.json("approvals", "list", "--json")
    assert rcli("approve", pending["id"], "--no-resume").exit_code == 0
    assert server.status(ex) is ExecutionStatus.WAITING

    resumed = rcli("resume", ex)

    assert resumed.exit_code == 0, resumed.output
    assert server.status(ex) is ExecutionStatus.SUCCEEDED
    assert f"resuming execution {ex} (waiting)" in resumed.stderr
    assert "succeeded send" in resumed.stdout
    assert "started   draft" not in resumed.stdout  # only the events after the resume
