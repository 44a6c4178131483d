"""SSE encoding: ids the client resumes with, kinds, and event data that parses back."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sse_starlette.event import ensure_bytes

from baton.errors import UsageError
from baton.events import (
    EVENT_ADAPTER,
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStatus,
    RunEvent,
    StepLog,
    StepSucceeded,
)
from baton.store.records import StoredEvent
from baton.streaming import HEARTBEAT, encode, encode_workspace, parse_last_event_id

AT = datetime(2025, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
EVENTS: list[RunEvent] = [
    StepSucceeded(
        execution_id="ex1",
        step_id="a",
        output={"rows": [1, 2], "text": "é\n"},
        duration_s=1.5,
        started_at=AT,
        at=AT,
    ),
    ExecutionFinished(execution_id="ex1", status=ExecutionStatus.FAILED, error="boom", at=AT),
    ApprovalRequested(execution_id="ex1", step_id="b", approval_id="ap_1", impact={"n": 3}),
    StepLog(execution_id="ex1", step_id="a", level="warning", message="line\nbreak"),
]


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.kind)
def test_encode_round_trips_through_the_event_adapter(event: RunEvent) -> None:
    fields = encode(StoredEvent(seq=17, event=event))
    assert fields["id"] == "17"
    assert fields["event"] == event.kind
    assert EVENT_ADAPTER.validate_json(fields["data"]) == event
    assert set(fields) == {"id", "event", "data"}


def test_encoded_fields_make_an_sse_message() -> None:
    fields = encode(StoredEvent(seq=3, event=EVENTS[3]))
    wire = ensure_bytes(fields, "\r\n").decode()  # what EventSourceResponse does with a dict
    assert wire.startswith("id: 3\r\nevent: log\r\ndata: {")
    assert "\\n" in wire  # the newline in the message is escaped in the JSON, one data line
    assert wire.count("data:") == 1


def test_heartbeat_is_an_sse_comment() -> None:
    assert encode(HEARTBEAT) == {"comment": "heartbeat"}
    assert encode_workspace(HEARTBEAT) == {"comment": "heartbeat"}
    assert ensure_bytes(encode(HEARTBEAT), "\r\n") == b": heartbeat\r\n\r\n"


def test_workspace_event_id_names_the_execution() -> None:
    fields = encode_workspace(StoredEvent(seq=5, event=EVENTS[1]))
    assert fields["id"] == "ex1:5"
    assert fields["event"] == "execution_finished"
    assert EVENT_ADAPTER.validate_json(fields["data"]) == EVENTS[1]


@pytest.mark.parametrize(
    ("header", "seq"), [(None, 0), ("0", 0), ("17", 17), ("007", 7), (str(2**63 - 1), 2**63 - 1)]
)
def test_last_event_id_accepts_a_decimal_seq(header: str | None, seq: int) -> None:
    assert parse_last_event_id(header) == seq


@pytest.mark.parametrize(
    "header", ["-1", "abc", "1.5", "", " 1", "1 ", "+3", "1e3", "٣", "ex1:5", str(2**63), "9" * 30]
)
def test_last_event_id_rejects_anything_else(header: str) -> None:
    with pytest.raises(UsageError, match="Last-Event-ID") as refused:
        parse_last_event_id(header)
    assert repr(header) in refused.value.message
    assert refused.value.hint
