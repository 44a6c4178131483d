"""What a compacted event log keeps: a snapshot built from the rows and the events."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from baton.errors import UsageError
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent


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
    }
