"""notify.send: messages written to the outbox, once per idempotency key."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any, cast

import pytest
from pydantic import ValidationError

from baton.agents.builtin import notify
from baton.agents.builtin.resources import AgentResources
from baton.agents.protocol import Agent, AgentContext, ExtractionContext, LogLevel, Risk
from baton.errors import AgentInputError

pytestmark = pytest.mark.anyio


class Sink:
    def __init__(self) -> None:
        self.logs: list[str] = []

    def log(self, step_id: str, level: LogLevel, message: str) -> None:
        self.logs.append(message)

    def progress(self, step_id: str, fraction: float | None, message: str) -> None:
        pass

    def partial(self, step_id: str, data: dict[str, Any]) -> None:
        pass


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    return root


@pytest.fixture
def send(ws: Path) -> Agent:
    (agent,) = notify.agents(AgentResources(workspace=ws, calendar=cast("Any", object())))
    return agent


async def call(agent: Agent, key: str, sink: Sink | None = None, **inputs: Any) -> dict[str, Any]:
    ctx = AgentContext(
        execution_id="ex1", step_id="notify", idempotency_key=key, sink=sink or Sink()
    )
    model = agent.spec.input_model.model_validate(inputs)
    return (await agent.run(model, ctx)).model_dump()


def test_spec(send: Agent) -> None:
    assert send.spec.name == "notify.send"
    assert (send.spec.risk, send.spec.idempotent) == (Risk.WRITE, True)


async def test_writes_a_readable_message(send: Agent, ws: Path) -> None:
    sink = Sink()
    out = await call(
        send, "k1", sink, to="dana@example.com", subject="Report ✓", message="It is ready.\n"
    )
    assert out["to"] == "dana@example.com"
    assert out["path"].startswith("outbox/")
    assert out["path"].endswith(f"-{out['message_id']}.eml")
    raw = (ws / out["path"]).read_bytes()
    msg = cast("EmailMessage", email.message_from_bytes(raw, policy=default))
    assert msg["To"] == "dana@example.com"
    assert msg["Subject"] == "Report ✓"
    assert msg["Message-ID"] == f"<{out['message_id']}@baton.local>"
    assert msg["X-Baton-Step"] == "notify"
    assert msg.get_content() == "It is ready.\n"
    assert sink.logs == [
        f"message {out['message_id']} to dana@example.com written to {out['path']}"
    ]


async def test_same_key_writes_one_message(send: Agent, ws: Path) -> None:
    first = await call(send, "k1", to="Dana", message="hello")
    sink = Sink()
    again = await call(send, "k1", sink, to="Dana", message="hello")
    assert again == first
    assert "already in the outbox" in sink.logs[0]
    other = await call(send, "k2", to="Dana", message="hello")
    assert other["message_id"] != first["message_id"]
    assert len(list((ws / "outbox").iterdir())) == 2


async def test_header_injection_is_refused(send: Agent) -> None:
    with pytest.raises(ValidationError, match="single line"):
        await call(send, "k1", to="a@example.com", subject="hi\nBcc: all@example.com", message="x")


async def test_outbox_symlinked_out_is_refused(send: Agent, ws: Path) -> None:
    (ws.parent / "elsewhere").mkdir()
    (ws / "outbox").symlink_to(ws.parent / "elsewhere", target_is_directory=True)
    with pytest.raises(AgentInputError, match="symbolic link"):
        await call(send, "k1", to="a@example.com", message="x")
    assert list((ws.parent / "elsewhere").iterdir()) == []


NOW = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC))
AFTER = ExtractionContext(now=datetime(2026, 1, 5, tzinfo=UTC), previous_agents=("text.summarize",))


@pytest.mark.parametrize(
    ("clause", "ctx", "inputs", "previous"),
    [
        ("email the result to dana@example.com", AFTER, {"to": "dana@example.com"}, ("message",)),
        (
            "notify ops@example.com that the report is ready",
            NOW,
            {"to": "ops@example.com", "message": "the report is ready"},
            (),
        ),
        ("send the summary to Dana", AFTER, {"to": "Dana"}, ("message",)),
        (
            "message alex@example.com with subject 'Weekly report' saying we shipped.",
            NOW,
            {"to": "alex@example.com", "subject": "Weekly report", "message": "we shipped"},
            (),
        ),
        ("email dana@example.com", NOW, {"to": "dana@example.com"}, ()),
    ],
)
def test_extract(
    clause: str, ctx: ExtractionContext, inputs: dict[str, Any], previous: tuple[str, ...]
) -> None:
    e = notify.extract_send(clause, ctx)
    assert (e.inputs, e.from_previous) == (inputs, previous)
