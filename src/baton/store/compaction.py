"""What a compacted event log keeps: a snapshot built from the rows and the events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from baton.errors import UsageError
from baton.events import EVENT_ADAPTER
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent

RECOVERY_KINDS = frozenset({"step_retrying", "step_recovery", "step_in_doubt", "step_reset"})
"""Events that show the recovery ladder at work: kept in a compacted log's snapshot, since
`baton executions show` lists them."""


def recovery_events(events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """The recovery events of a log, as JSON data with their positions (for the snapshot)."""
    return [
        {"seq": e.seq, "event": EVENT_ADAPTER.dump_python(e.event, mode="json")}
        for e in events
        if e.event.kind in RECOVERY_KINDS
    ]


def recovery_from_snapshot(snapshot: dict[str, Any]) -> list[StoredEvent]:
    """The recovery events kept in a compacted log's snapshot."""
    return [
        StoredEvent(seq=item["seq"], event=EVENT_ADAPTER.validate_python(item["event"]))
        for item in snapshot.get("recovery", [])
    ]


def check_compactable(execution: ExecutionRecord) -> None:
    """Only a finished execution's log may be compacted (a running one still needs it)."""
    if not execution.status.finished:
        raise UsageError(
            f"execution {execution.id} is {execution.status.value}; only a finished "
            "execution's event log can be compacted"
        )


def snapshot(
    execution: ExecutionRecord, steps: Sequence[StepRecord], events: Sequence[StoredEvent]
) -> dict[str, Any]:
    """The final state, as JSON data."""
    return {
        "status": execution.status.value,
        "error": execution.error,
        "started_at": execution.started_at.isoformat() if execution.started_at else None,
        "finished_at": execution.finished_at.isoformat() if execution.finished_at else None,
        "steps": {
            s.step_id: {
                "status": s.status.value,
                "attempts": s.attempts,
                "duration_s": s.duration_s,
                "error": s.error,
            }
            for s in steps
        },
        "event_kinds": dict(Counter(e.event.kind for e in events)),
        "recovery": recovery_events(events),
    }
