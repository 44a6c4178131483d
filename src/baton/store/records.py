"""Rows of the execution store, as plain frozen dataclasses (backend-independent)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from baton.events import ExecutionStatus, RunEvent, StepStatus

DEFAULT_WORKSPACE = "default"


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionRecord:
    """One execution: a plan being (or having been) run."""

    id: str
    """Execution id (``ex_...``)."""
    name: str
    """The plan's name."""
    request: str | None
    """The plain-language request, when it was planned from one."""
    plan: dict[str, Any]
    """The plan as JSON data (what ran, exactly)."""
    status: ExecutionStatus
    """Current status."""
    created_at: datetime
    """When it was created."""
    started_at: datetime | None = None
    """When it first started running."""
    finished_at: datetime | None = None
    """When it reached a final status."""
    error: str | None = None
    """Why it failed or was cancelled."""
    cancel_requested: bool = False
    """Someone asked (possibly from another process) to cancel it."""
    workspace_id: str = DEFAULT_WORKSPACE
    """Tenant the execution belongs to."""
    lease_owner: str | None = None
    """The process holding the execution's lease (running it), if any."""
    lease_expires_at: datetime | None = None
    """When that lease runs out unless renewed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecord:
    """One step of one execution."""

    execution_id: str
    """Owning execution."""
    step_id: str
    """Id of the step in the plan."""
    agent: str
    """Agent doing it."""
    position: int
    """Index in the plan, for stable listing."""
    status: StepStatus = StepStatus.PENDING
    """Current status."""
    attempts: int = 0
    """Attempts started so far."""
    started_at: datetime | None = None
    """Start of the latest attempt."""
    finished_at: datetime | None = None
    """When it reached a final status."""
    duration_s: float | None = None
    """Wall time of the successful attempt."""
    output: dict[str, Any] | None = None
    """The agent's output, once it succeeded."""
    error: str | None = None
    """Last error, or why it was skipped."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentHistory:
    """What the store remembers of an agent's finished steps (seeds the registry's stats)."""

    succeeded: int
    """Steps it finished successfully."""
    failed: int
    """Steps that failed for good."""
    mean_duration_s: float | None
    """Mean duration of the successful ones (None if none)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Checkpoint:
    """A finished execution's event log, folded into one snapshot by compaction."""

    execution_id: str
    """The execution."""
    created_at: datetime
    """When the log was compacted."""
    event_count: int
    """How many events were folded in."""
    last_seq: int
    """Position of the last event folded in (new events would follow it)."""
    snapshot: dict[str, Any]
    """Final state: execution status and error, per-step status, attempts and duration,
    and how many events of each kind there were."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent:
    """An event as kept in the event log, with its position."""

    seq: int
    """Position in the execution's log: 1, 2, 3... with no gap (resume streams after it)."""
    event: RunEvent
    """The event itself."""
