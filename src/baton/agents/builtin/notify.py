"""The notify agent: write a message to the local outbox as an ``.eml`` file.

Nothing is sent: the outbox (``resources.outbox``, inside the workspace) is where a person or a
mail connector picks messages up, so the risk is WRITE, not IRREVERSIBLE. A message's id derives
from the step's idempotency key, so a retried or resumed step finds its message already in the
outbox and does not write a second one.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from functools import partial
from pathlib import Path
from typing import Any

from anyio import to_thread
from pydantic import BaseModel, ConfigDict, Field, field_validator

from baton.agents.builtin._workspace import atomic_write, confine, relative_name
from baton.agents.builtin.resources import AgentResources
from baton.agents.decorator import agent
from baton.agents.parsing.text import find_emails, find_quoted, refers_to_previous
from baton.agents.protocol import Agent, AgentContext, Extraction, ExtractionContext, Risk
from baton.errors import AgentInputError


class NotifyInput(BaseModel):
    """Inputs of ``notify.send``."""

    model_config = ConfigDict(extra="forbid")
    to: str = Field(min_length=1, description="Recipient: an email address or a name.")
    subject: str = Field(default="", description="Subject line.")
    message: str = Field(description="The message body (plain text or Markdown).")

    @field_validator("to", "subject")
    @classmethod
    def _one_line(cls, value: str) -> str:
        # A line break in a header would let the text forge further headers.
        if "\n" in value or "\r" in value:
            raise ValueError("must be a single line")
        return value.strip()


class NotifyOutput(BaseModel):
    """Output of ``notify.send``."""

    message_id: str = Field(description="Id of the message (stable for one idempotency key).")
    path: str = Field(description="The message file, relative to the workspace.")
    to: str = Field(description="The recipient.")


def message_id_for(idempotency_key: str) -> str:
    """The message id: derived from the idempotency key, or random without one."""
    if idempotency_key:
        return hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
    return uuid.uuid4().hex[:16]


def render(inputs: NotifyInput, message_id: str, now: datetime, ctx: AgentContext) -> bytes:
    """The message as RFC 5322 bytes (headers, a blank line, the body)."""
    msg = EmailMessage()
    try:
        msg["To"] = inputs.to
        msg["Subject"] = inputs.subject
    except ValueError as exc:
        raise AgentInputError(f"cannot use {inputs.to!r} / {inputs.subject!r}: {exc}") from None
    msg["Date"] = format_datetime(now)
    msg["Message-ID"] = f"<{message_id}@baton.local>"
    msg["X-Baton-Execution"] = ctx.execution_id
    msg["X-Baton-Step"] = ctx.step_id
    msg.set_content(inputs.message)
    return msg.as_bytes()


def _deliver(
    root: Path, outbox: Path, inputs: NotifyInput, ctx: AgentContext, now: datetime
) -> tuple[NotifyOutput, bool]:
    folder = confine(root, outbox)
    folder.mkdir(parents=True, exist_ok=True)
    message_id = message_id_for(ctx.idempotency_key)
    existing = sorted(folder.glob(f"*-{message_id}.eml"))
    if existing:
        return NotifyOutput(
            message_id=message_id, path=relative_name(root, existing[0]), to=inputs.to
        ), False
    target = folder / f"{now:%Y%m%dT%H%M%SZ}-{message_id}.eml"
    atomic_write(target, render(inputs, message_id, now, ctx))
    return NotifyOutput(message_id=message_id, path=relative_name(root, target), to=inputs.to), True


# --- extractor (offline planner) -----------------------------------------------------------

_MESSAGE = re.compile(r"\b(?:that|saying|says|with the message|to say)\s+(.+)$|:\s*(.+)$", re.I)
_NAME = re.compile(
    r"\b(?i:to|notify|tell|message|ping|remind)\s+([A-Z][\w.-]*(?:\s+[A-Z][\w.-]*)?)"
)


def extract_send(clause: str, ctx: ExtractionContext) -> Extraction:
    """Read "email the result to dana@example.com", "notify ops@example.com that it's done"."""
    inputs: dict[str, Any] = {}
    emails = find_emails(clause)
    name = _NAME.search(clause)
    if emails:
        inputs["to"] = emails[0]
    elif name:
        inputs["to"] = name.group(1)
    quoted = find_quoted(clause)
    subject = re.search(r"\bsubject\s+[\"'\u201c\u2018]([^\"'\u201d\u2019]+)", clause, re.I)
    if subject:
        inputs["subject"] = subject.group(1)
        quoted = [q for q in quoted if q != subject.group(1)]
    said = _MESSAGE.search(clause)
    from_previous: tuple[str, ...] = ()
    if quoted:
        inputs["message"] = quoted[0]
    elif said:
        inputs["message"] = (said.group(1) or said.group(2)).strip().rstrip(".")
    elif refers_to_previous(clause) or ctx.previous_agents:
        from_previous = ("message",)
    who = inputs.get("to", "someone (no recipient found)")
    return Extraction(
        inputs=inputs, from_previous=from_previous, understood=f"send a message to {who}"
    )


def agents(resources: AgentResources) -> list[Agent]:
    """The notify agent, writing to ``resources.outbox``."""
    root, outbox = resources.workspace, resources.outbox

    @agent(
        "notify.send",
        description=(
            "Send a message or email to a person: writes it to the local outbox as an .eml "
            "file (nothing leaves the machine)."
        ),
        risk=Risk.WRITE,
        idempotent=True,
        examples=(
            "email the result to dana@example.com",
            "notify ops@example.com that the report is ready",
            "send the summary to Dana",
            "tell the team 'deploy finished'",
            "message alex@example.com with subject 'Weekly report'",
        ),
        tags=("builtin", "notify"),
        extract=extract_send,
    )
    async def send(inputs: NotifyInput, ctx: AgentContext) -> NotifyOutput:
        now = datetime.now(UTC)
        result, created = await to_thread.run_sync(
            partial(_deliver, root, outbox, inputs, ctx, now)
        )
        if created:
            ctx.log(f"message {result.message_id} to {result.to} written to {result.path}")
        else:
            ctx.log(f"message {result.message_id} was already in the outbox; not written again")
        return result

    return [send]
