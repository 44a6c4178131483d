"""``baton approvals list``, ``baton approve`` and ``baton reject``, in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from baton import Baton, Settings
from baton.safety import hash_inputs, hash_plan
from baton.store.approvals import Approval

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

PLAN = hash_plan({"steps": []})


@dataclass(frozen=True)
class Spec:
    name: str = "notify.send"
    description: str = "Send a message."
    risk: str = "irreversible"


def settings_of(env: dict[str, str]) -> Settings:
    return Settings(
        data_dir=Path(env["BATON_DATA_DIR"]),
        workspace=Path(env["BATON_WORKSPACE"]),
        plugins_dir=Path(env["BATON_PLUGINS_DIR"]),
    )


def request(env: dict[str, str], step_id: str = "send") -> str:
    """An approval request made through the service, as the executor would."""

    async def make() -> str:
        async with Baton.open(settings_of(env), discover_plugins=False) as b:
            approval = await b.approvals.request(
                execution_id="ex_1",
                step_id=step_id,
                agent=Spec(),
                inputs={"to": "dana@x.com", "text": "hi"},
                plan_hash=PLAN,
                reason="notify.send makes changes that cannot be undone",
            )
            return approval.id

    return anyio.run(make)


def stored(env: dict[str, str], approval_id: str) -> Approval:
    async def read() -> Approval:
        async with Baton.open(settings_of(env), discover_plugins=False) as b:
            return await b.approvals.store.get(approval_id)

    return anyio.run(read)


def test_list_shows_pending_requests(cli: Cli, baton_env: dict[str, str]) -> None:
    empty = cli("approvals", "list")
    assert empty.exit_code == 0, empty.output
    assert "no approval requests waiting" in empty.output
    ap = request(baton_env)
    shown = cli("approvals", "list")
    assert shown.exit_code == 0, shown.output
    assert ap in shown.output
    assert "cannot be undone" in shown.output
    assert "(irreversible)" in shown.output
    [data] = cli.json("approvals", "list", "--json")
    assert data["id"] == ap
    assert data["status"] == "pending"
    assert data["impact"]["targets"] == ["dana@x.com"]
    assert data["inputs"] == {"to": "dana@x.com", "text": "hi"}


def test_approve_with_edited_inputs(cli: Cli, baton_env: dict[str, str]) -> None:
    ap = request(baton_env)
    done = cli("approve", ap, "--edit-inputs", '{"to": "team@x.com", "text": "hi"}')
    assert done.exit_code == 0, done.output
    assert f"approved {ap} with edited inputs" in done.output
    approval = stored(baton_env, ap)
    assert approval.status == "approved"
    assert approval.decided_by is not None
    assert approval.decided_by.startswith("cli")
    assert approval.run_inputs == {"to": "team@x.com", "text": "hi"}
    assert approval.inputs_hash == hash_inputs(approval.inputs)  # bound to what was shown
    assert cli.json("approvals", "list", "--json") == []
    everything: list[dict[str, Any]] = cli.json("approvals", "list", "--all", "--json")
    assert [a["status"] for a in everything] == ["approved"]


def test_reject_records_the_reason(cli: Cli, baton_env: dict[str, str]) -> None:
    ap = request(baton_env)
    done = cli("reject", ap, "--reason", "wrong recipient")
    assert done.exit_code == 0, done.output
    assert f"rejected {ap}" in done.output
    approval = stored(baton_env, ap)
    assert (approval.status, approval.decision_reason) == ("rejected", "wrong recipient")


def test_mistakes_exit_2_with_a_clear_message(cli: Cli, baton_env: dict[str, str]) -> None:
    ap = request(baton_env)
    for args, needle in [
        (["approve", "ap_nope"], "no approval 'ap_nope'"),
        (["approve", ap, "--edit-inputs", "{nope"], "not valid JSON"),
        (["approve", ap, "--edit-inputs", "[1]"], "must be a JSON object"),
        (["reject", ap], "--reason"),
        (["reject", ap, "--reason", " "], "say why"),
    ]:
        result = cli(*args)
        assert result.exit_code == 2, (args, result.output)
        assert needle in result.output, (args, result.output)
    assert cli("approve", ap).exit_code == 0
    again = cli("reject", ap, "--reason", "too late")
    assert again.exit_code == 2
    assert "decided already: approved" in again.output
