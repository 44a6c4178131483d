"""What a compacted event log keeps: a snapshot built from the rows and the events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from baton.errors import UsageError
from baton.events import EVENT_ADAPTER, RunEvent, StepSucceeded
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent

RECOVERY_KINDS = frozenset(
    {"step_retrying", "step_recovery", "step_in_doubt", "step_reset", "plan_revised"}
)
"""Events that show the recovery ladder at work (a replan included): kept in a compacted
log's snapshot, since `baton executions show` lists them."""


def is_cache_hit(event: RunEvent) -> bool:
    """Whether `event` is a step the smart cache answered (`baton executions show` marks it)."""
    return isinstance(event, StepSucceeded) and event.cached


def shown_in_show(event: RunEvent) -> bool:
    """Whether `baton executions show` needs `event`: a recovery rung, or a cache hit."""
    return event.kind in RECOVERY_KINDS or is_cache_hit(event)


def recovery_events(events: Sequence[StoredEvent]) -> list[dict[str, Any]]:
    """The recovery events of a log, as JSON data with their positions (for the snapshot)."""
    return [
        {"seq": e.seq, "event": EVENT_ADAPTER.dump_python(e.event, mode="json")}
        for e in events
        if shown_in_show(e.event)
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
