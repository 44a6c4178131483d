"""Typed events: everything that happens to an execution is one of these.

Events are frozen dataclasses with a ``kind`` literal, joined in the discriminated union
`RunEvent`. They are serialised once, at the edge (event log, SSE, ``--json``), through
`EVENT_ADAPTER`. Statuses are `StrEnum`s so they persist as plain strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter


class ExecutionStatus(StrEnum):
    """Lifecycle of an execution."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    """Stopped until a person decides something (a step in doubt after a crash)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """True once the execution will not change any more."""
        return self in _FINISHED_EXECUTION


_FINISHED_EXECUTION = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)


class StepStatus(StrEnum):
    """Lifecycle of one step."""

    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"
    AWAITING_APPROVAL = "awaiting_approval"
    """It needs a person's approval before it runs (``baton approvals list``)."""
    IN_DOUBT = "in_doubt"
    """It was running when its process died and its agent is not idempotent: a person must
    decide whether it happened (``baton resolve``)."""

    @property
    def finished(self) -> bool:
        """True once the step will not run (again) in this execution."""
        return self in _FINISHED_STEP


_FINISHED_STEP = frozenset(
    {StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.SKIPPED, StepStatus.CANCELLED}
)


def utcnow() -> datetime:
    """Current time, timezone-aware (UTC)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True, kw_only=True)
class _Event:
    execution_id: str
    """The execution this event belongs to."""
    at: datetime = field(default_factory=utcnow)
    """When it happened (UTC)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionStarted(_Event):
    """The execution began (or resumed) running."""

    kind: Literal["execution_started"] = "execution_started"
    step_count: int = 0
    """Number of steps in the plan."""
    resumed: bool = False
    """True when an earlier run of this execution is being continued."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionFinished(_Event):
    """The execution reached a final status."""

    kind: Literal["execution_finished"] = "execution_finished"
    status: ExecutionStatus = ExecutionStatus.SUCCEEDED
    """Final status."""
    error: str | None = None
    """Why it failed or was cancelled, if it did not succeed."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ExecutionWaiting(_Event):
    """Nothing more can run until a person decides about the steps in doubt."""

    kind: Literal["execution_waiting"] = "execution_waiting"
    reason: str = ""
    """What is awaited, e.g. which steps are in doubt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepEvent(_Event):
    """Base of the events about one step."""

    step_id: str = ""
    """The step this event is about."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStarted(StepEvent):
    """An attempt of a step started running."""

    kind: Literal["step_started"] = "step_started"
    agent: str = ""
    """The agent doing the step."""
    attempt: int = 1
    """1 for the first attempt, 2 for the first retry, ..."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSucceeded(StepEvent):
    """A step finished and produced its output (the seed's ``complete`` for a step)."""

    kind: Literal["step_succeeded"] = "step_succeeded"
    output: dict[str, Any] = field(default_factory=dict[str, Any])
    """The agent's output, as JSON-compatible data."""
    duration_s: float = 0.0
    """Wall time of the successful attempt."""
    attempt: int = 1
    """Which attempt succeeded."""
    started_at: datetime | None = None
    """When that attempt started."""
    cached: bool = False
    """The output came from the smart cache: the agent did not run (events logged before
    the cache existed have no such field, and read as False)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRetrying(StepEvent):
    """An attempt failed with a retryable error; the step will be tried again after `delay_s`."""

    kind: Literal["step_retrying"] = "step_retrying"
    attempt: int = 1
    """The attempt that failed."""
    error: str = ""
    """Why it failed."""
    error_class: str = ""
    """The error's class (a `baton.error_classes.ErrorClass` value, e.g. ``transient``);
    empty in events recorded before baton noted it."""
    delay_s: float = 0.0
    """Back-off before the next attempt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepFailed(StepEvent):
    """A step failed for good; its dependents will be skipped."""

    kind: Literal["step_failed"] = "step_failed"
    error: str = ""
    """Why it failed."""
    error_type: str = ""
    """Class name of the error, e.g. ``StepTimeoutError``."""
    error_class: str = ""
    """The error's class (a `baton.error_classes.ErrorClass` value, e.g. ``timeout``);
    empty in events recorded before baton noted it."""
    attempts: int = 1
    """How many attempts were made."""
    started_at: datetime | None = None
    """When the last attempt started (None if it never started)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepSkipped(StepEvent):
    """A step will not run because something it depends on did not succeed."""

    kind: Literal["step_skipped"] = "step_skipped"
    reason: str = ""
    """Which dependency failed, and why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepCancelled(StepEvent):
    """A step was cancelled (the execution was cancelled while it was pending or running)."""

    kind: Literal["step_cancelled"] = "step_cancelled"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepInDoubt(StepEvent):
    """The step was running when its process died and may or may not have had its effect."""

    kind: Literal["step_in_doubt"] = "step_in_doubt"
    reason: str = ""
    """Why it cannot simply be run again."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepRecovery(StepEvent):
    """A rung of the recovery ladder was taken after a failed attempt.

    A plain retry of the same agent is `StepRetrying`.
    """

    kind: Literal["step_recovery"] = "step_recovery"
    rung: Literal["alternative", "ask", "fail"] = "fail"
    """What the ladder chose."""
    error_class: str = ""
    """How the error was classified (``timeout``, ``permission``...)."""
    agent: str = ""
    """The agent that failed."""
    detail: str = ""
    """E.g. which alternative agent runs next, or the error."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ApprovalRequested(StepEvent):
    """The step waits for a person's approval (the seed's ``approval`` event)."""

    kind: Literal["approval"] = "approval"
    approval_id: str = ""
    """Decide with ``baton approve ID`` or ``baton reject ID --reason ...``."""
    reason: str = ""
    """Why it needs approval."""
    impact: dict[str, Any] = field(default_factory=dict[str, Any])
    """What will change, for whom, and whether it can be undone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepReset(StepEvent):
    """The step goes back to pending (a person chose to retry it)."""

    kind: Literal["step_reset"] = "step_reset"
    reason: str = ""
    """Who or what reset it."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMessageSent(StepEvent):
    """An agent sent a message to a channel of the execution (the messenger)."""

    kind: Literal["message"] = "message"
    channel: str = ""
    """Where it went (``_broadcast`` for everyone)."""
    seq: int = 0
    """Its position in the channel."""
    body: Any = None
    """What it said (JSON data)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepProgress(StepEvent):
    """An agent reported how far along it is."""

    kind: Literal["progress"] = "progress"
    fraction: float | None = None
    """0.0 to 1.0, or None when unknown."""
    message: str = ""
    """What it is doing now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepLog(StepEvent):
    """A log line from an agent."""

    kind: Literal["log"] = "log"
    level: Literal["debug", "info", "warning", "error"] = "info"
    """Severity."""
    message: str = ""
    """The line."""


@dataclass(frozen=True, slots=True, kw_only=True)
class StepPartial(StepEvent):
    """Incremental data from a step that is still running."""

    kind: Literal["partial"] = "partial"
    data: dict[str, Any] = field(default_factory=dict[str, Any])
    """A piece of the result."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlanRevised(_Event):
    """A step failed for good and the execution goes on with a revised plan (a replan).

    Steps that succeeded are kept with their outputs; `added` steps start afresh (pending);
    `removed` steps are no longer part of the execution.
    """

    kind: Literal["plan_revised"] = "plan_revised"
    plan: dict[str, Any] = field(default_factory=dict[str, Any])
    """The new plan, as JSON data (what runs from now on)."""
    version: int = 2
    """The new plan's version: 1 as planned, one more per revision."""
    reason: str = ""
    """Why the plan was revised (which step failed, and how)."""
    added: list[str] = field(default_factory=list[str])
    """Steps of the new plan that start afresh: new ones, and failed or skipped ones kept."""
    removed: list[str] = field(default_factory=list[str])
    """Steps of the old plan that are not in the new one."""


RunEvent = Annotated[
    ExecutionStarted
    | ExecutionWaiting
    | ExecutionFinished
    | StepStarted
    | StepSucceeded
    | StepRetrying
    | StepFailed
    | StepSkipped
    | StepCancelled
    | StepInDoubt
    | ApprovalRequested
    | StepRecovery
    | StepReset
    | AgentMessageSent
    | StepProgress
    | StepLog
    | StepPartial
    | PlanRevised,
    Field(discriminator="kind"),
]
"""Every event baton emits."""

EVENT_ADAPTER: TypeAdapter[RunEvent] = TypeAdapter(RunEvent)
"""Serialise with ``EVENT_ADAPTER.dump_python(e, mode="json")``; parse with ``validate_python``."""

TRANSITION_KINDS = frozenset(
    {
        "execution_started",
        "execution_waiting",
        "execution_finished",
        "step_started",
        "step_succeeded",
        "step_retrying",
        "step_failed",
        "step_skipped",
        "step_cancelled",
        "step_in_doubt",
        "step_reset",
        "approval",
        "plan_revised",
    }
)
"""Kinds that change an execution's or a step's state (persisted with the row they change)."""
