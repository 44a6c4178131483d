"""How transition events change rows. Shared by every store so that they agree exactly.

Each function maps one event to the column values it sets; a store merges the updates of a
batch per row (in order) and writes them with the events, in one transaction. A `PlanRevised`
event also changes which step rows exist (`revised_steps`); a store applies a batch in
segments that end at each revision (`split_at_revisions`), so that the rows are right for the
events on either side of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from baton.events import (
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    PlanRevised,
    RunEvent,
    StepCancelled,
    StepFailed,
    StepInDoubt,
    StepReset,
    StepRetrying,
    StepSkipped,
    StepStarted,
    StepStatus,
    StepSucceeded,
)
from baton.store.records import StepRecord


def step_update(event: RunEvent) -> dict[str, Any] | None:
    """Columns of ``execution_steps`` that `event` sets, or None if it changes no step."""
    match event:
        # The three hot transitions set the same columns, so that a batch of them is written
        # with a single executemany statement.
        case StepStarted():
            return {
                "status": StepStatus.RUNNING,
                "attempts": event.attempt,
                "started_at": event.at,
                "finished_at": None,
                "duration_s": None,
                "output": None,
                "error": None,
            }
        case StepSucceeded():
            return {
                "status": StepStatus.SUCCEEDED,
                "attempts": event.attempt,
                "started_at": event.started_at,
                "finished_at": event.at,
                "duration_s": event.duration_s,
                "output": event.output,
                "error": None,
            }
        case StepFailed():
            return {
                "status": StepStatus.FAILED,
                "attempts": event.attempts,
                "started_at": event.started_at,
                "finished_at": event.at,
                "duration_s": None,
                "output": None,
                "error": event.error,
            }
        case StepRetrying():
            return {"error": event.error}
        case StepSkipped():
            return {"status": StepStatus.SKIPPED, "error": event.reason, "finished_at": event.at}
        case StepCancelled():
            return {"status": StepStatus.CANCELLED, "finished_at": event.at}
        case StepInDoubt():
            return {"status": StepStatus.IN_DOUBT, "error": event.reason}
        case ApprovalRequested():
            return {"status": StepStatus.AWAITING_APPROVAL, "error": None}
        case StepReset():
            return {
                "status": StepStatus.PENDING,
                "finished_at": None,
                "duration_s": None,
                "output": None,
                "error": None,
            }
        case _:
            return None


def execution_update(event: RunEvent) -> dict[str, Any] | None:
    """Columns of ``executions`` that `event` sets, or None if it changes no execution."""
    match event:
        case ExecutionStarted():
            if event.resumed:
                return {"status": ExecutionStatus.RUNNING, "finished_at": None, "error": None}
            return {"status": ExecutionStatus.RUNNING, "started_at": event.at, "finished_at": None}
        case ExecutionWaiting():
            return {"status": ExecutionStatus.WAITING, "error": event.reason}
        case ExecutionFinished():
            return {"status": event.status, "finished_at": event.at, "error": event.error}
        case PlanRevised():
            return {"plan": event.plan}
        case _:
            return None


def merge_updates(
    events: list[RunEvent],
) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """Fold a batch of events into per-step and per-execution column updates."""
    steps: dict[str, dict[str, Any]] = {}
    executions: dict[str, dict[str, Any]] = {}
    for event in events:
        su = step_update(event)
        if su is not None:
            key = f"{event.execution_id}\x00{getattr(event, 'step_id', '')}"
            steps.setdefault(key, {}).update(su)
            continue
        eu = execution_update(event)
        if eu is not None:
            executions.setdefault(event.execution_id, {}).update(eu)
    return steps, executions


@dataclass(frozen=True, slots=True, kw_only=True)
class RevisedSteps:
    """How a `PlanRevised` event changes an execution's step rows."""

    dropped: frozenset[str]
    """Rows to delete: the removed steps, and the added ones (re-created fresh)."""
    fresh: tuple[StepRecord, ...]
    """Rows to insert: one pending row per added step."""
    positions: dict[str, int]
    """Every step of the new plan and its index there (kept rows move to it)."""


def revised_steps(event: PlanRevised) -> RevisedSteps:
    """The step rows `event` deletes, inserts and moves."""
    steps: list[dict[str, Any]] = event.plan.get("steps", [])
    positions = {str(s["id"]): i for i, s in enumerate(steps)}
    added = set(event.added)
    fresh = tuple(
        StepRecord(
            execution_id=event.execution_id,
            step_id=str(s["id"]),
            agent=str(s["agent"]),
            position=positions[str(s["id"])],
        )
        for s in steps
        if s["id"] in added
    )
    return RevisedSteps(dropped=frozenset(event.removed) | added, fresh=fresh, positions=positions)


def split_at_revisions(
    events: Sequence[RunEvent],
) -> list[tuple[list[RunEvent], PlanRevised | None]]:
    """Cut a batch after each `PlanRevised`: (events, the revision ending them or None).

    A store applies each segment's merged updates, then its revision, in order. A batch
    without a revision (nearly all of them) is one segment.
    """
    segments: list[tuple[list[RunEvent], PlanRevised | None]] = []
    current: list[RunEvent] = []
    for event in events:
        current.append(event)
        if isinstance(event, PlanRevised):
            segments.append((current, event))
            current = []
    if current or not segments:
        segments.append((current, None))
    return segments
