"""The REST API's JSON shapes, shared by the server (`baton.api`) and `baton.client`.

Requests are strict: an unknown field is refused (``extra="forbid"``), so a typo in a field
name is an error that names it rather than a value silently ignored. Responses keep the
field names of the store's records, so the CLI renders a remote execution exactly like a
local one.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from baton.events import ExecutionStatus, StepStatus

__all__ = [
    "AgentOut",
    "AgentStatsOut",
    "ApiKeyCreated",
    "ApiKeyIn",
    "ApiKeyOut",
    "ApprovalOut",
    "ApproveIn",
    "EventOut",
    "ExecutionDetail",
    "ExecutionOut",
    "ExecutionUsageOut",
    "FeedbackIn",
    "FeedbackOut",
    "Health",
    "MemberIn",
    "MemberOut",
    "MemberUpdate",
    "OrchestrateIn",
    "OrchestrateOut",
    "Page",
    "PlanPreview",
    "PrincipalOut",
    "ProblemOut",
    "RejectIn",
    "SpanEventOut",
    "SpanOut",
    "StepOut",
    "TraceOut",
    "UsageOut",
    "WorkspaceCreated",
    "WorkspaceIn",
    "WorkspaceOut",
]

T = TypeVar("T")

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
RoleName = Literal["admin", "member", "viewer"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- executions ---------------------------------------------------------------------------


class OrchestrateIn(_In):
    """Start an execution from a plain-language request or a plan.

    Given both, the plan runs as is and the request is recorded as what it was made for (a
    client that showed the planned plan and had it confirmed sends both).
    """

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"request": "uppercase the text 'hello world'"},
                {
                    "plan": {
                        "name": "shout",
                        "steps": [
                            {
                                "id": "shout",
                                "agent": "text.transform",
                                "inputs": {"text": "hello", "operation": "upper"},
                            }
                        ],
                    }
                },
                {"request": "uppercase the text 'hello world'", "dry_run": True},
                {"request": "summarize notes.txt", "max_tokens": 20000, "max_cost_usd": 0.5},
            ]
        },
    )

    request: Annotated[str, StringConstraints(min_length=1, max_length=10_000)] | None = None
    """What to do, in plain language; the planner turns it into a plan."""
    plan: dict[str, Any] | None = None
    """A plan document (the shape of ``baton plan --json``)."""
    dry_run: StrictBool = False
    """Plan and validate only: answer with the plan, run nothing."""
    max_tokens: Annotated[StrictInt, Field(ge=1)] | None = None
    """Most tokens the execution's model calls may use, planning included (the plan's budget)."""
    max_cost_usd: Annotated[StrictFloat, Field(gt=0, allow_inf_nan=False)] | None = None
    """Most the execution's model calls may cost, in US dollars, planning included."""


class PlanPreview(_Out):
    """A validated plan that was not run (``dry_run``)."""

    plan: dict[str, Any]
    """The plan as JSON."""
    critical_path: list[str]
    """Step ids on the longest chain of dependencies."""
    estimated_duration_s: float | None
    """Estimated makespan from the agents' mean durations (None when unknown)."""


class ExecutionOut(_Out):
    """An execution, without its plan."""

    id: str
    name: str
    request: str | None
    status: ExecutionStatus
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: str | None = None
    cancel_requested: bool = False
    workspace_id: str


class UsageOut(_Out):
    """Totals of model calls: tokens and estimated cost."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    unpriced_calls: int = 0
    """Calls whose model has no price in the table (their cost is not in `cost_usd`)."""


class ExecutionUsageOut(_Out):
    """What an execution spent on models: planning, each step, and the total."""

    planning: UsageOut
    """Planning the plan, every replan included."""
    steps: dict[str, UsageOut] = Field(default_factory=dict[str, UsageOut])
    """By step id; steps that made no model call are left out."""
    total: UsageOut


class ExecutionDetail(ExecutionOut):
    """An execution with the plan it runs, its plan's version and what it spent on models."""

    plan: dict[str, Any]
    plan_version: int = 1
    """1 as planned; each replan adds one (the plan says why in ``revised_because``)."""
    usage: ExecutionUsageOut | None = None
    """Its model usage (all zero when no model was called); None from an older server."""


class OrchestrateOut(_Out):
    """The answer to ``POST /api/orchestrate``: the execution started, or the dry-run plan."""

    execution: ExecutionOut | None = None
    preview: PlanPreview | None = None


class StepOut(_Out):
    """One step of an execution."""

    execution_id: str
    step_id: str
    agent: str
    position: int
    status: StepStatus
    attempts: int = 0
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_s: float | None = None
    output: dict[str, Any] | None = None
    error: str | None = None


class EventOut(_Out):
    """One event of the log: its position (the SSE id) and the typed event's fields."""

    model_config = ConfigDict(extra="allow")

    seq: int
    kind: str
    execution_id: str
    at: datetime


class Page(_Out, Generic[T]):
    """One page of a list, newest first; pass `next_cursor` as ``cursor`` for the next."""

    items: list[T]
    next_cursor: str | None = None


class FeedbackIn(_In):
    """How an execution went, in a person's eyes (feeds the learning engine)."""

    rating: StrictInt = Field(ge=1, le=5)
    """1 (useless) to 5 (exactly right)."""
    comment: Annotated[str, StringConstraints(max_length=4000)] = ""


class FeedbackOut(_Out):
    """Recorded feedback."""

    id: str
    execution_id: str
    user_id: str
    rating: int
    comment: str
    created_at: datetime


# ---- approvals ----------------------------------------------------------------------------


class ApprovalOut(_Out):
    """An approval request and its decision."""

    id: str
    workspace_id: str
    execution_id: str
    step_id: str
    agent: str
    inputs: dict[str, Any]
    impact: dict[str, Any]
    reason: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    edited_inputs: dict[str, Any] | None = None


class ApproveIn(_In):
    """Approve a gated step, optionally with edited inputs."""

    edited_inputs: dict[str, Any] | None = None
    """Inputs to run the step with instead of the requested ones."""
    resume: StrictBool = True
    """Continue the execution right away."""


class RejectIn(_In):
    """Reject a gated step."""

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    resume: StrictBool = True
    """Continue the execution (the step fails; the steps that depend on it are skipped)."""


# ---- agents -------------------------------------------------------------------------------


class AgentStatsOut(_Out):
    """Live performance of an agent."""

    runs: int
    successes: int
    failures: int
    success_rate: float | None
    mean_duration_s: float | None
    last_error: str | None


class AgentOut(_Out):
    """An agent of the registry; the detail view adds schemas and examples."""

    name: str
    description: str
    risk: str
    idempotent: bool
    cacheable: bool
    rate_limit_key: str | None
    tags: list[str]
    source: str
    stats: AgentStatsOut
    input_schema: dict[str, Any] | None = None
    output_schema: dict[str, Any] | None = None
    examples: list[str] | None = None


# ---- tenancy ------------------------------------------------------------------------------


class PrincipalOut(_Out):
    """Who the caller is."""

    user_id: str
    name: str
    kind: str
    workspace_id: str
    role: RoleName
    key_id: str | None


class WorkspaceOut(_Out):
    """A workspace."""

    id: str
    name: str
    created_at: datetime


class WorkspaceIn(_In):
    """A new workspace (its first admin gets a key, shown once)."""

    name: Name
    admin_name: Name = "admin"


class WorkspaceCreated(_Out):
    """A new workspace and its admin's API key (shown this once)."""

    workspace: WorkspaceOut
    admin_key: str


class MemberOut(_Out):
    """A user or service account of the workspace."""

    id: str
    workspace_id: str
    name: str
    kind: Literal["user", "service"]
    role: RoleName
    created_at: datetime
    disabled: bool = False


class MemberIn(_In):
    """A new member."""

    name: Name
    role: RoleName = "member"
    kind: Literal["user", "service"] = "user"


class MemberUpdate(_In):
    """A member's new role."""

    role: RoleName


class ApiKeyOut(_Out):
    """An API key, without its secret."""

    id: str
    """The key's public id (its prefix: ``baton_<id>_...``)."""
    workspace_id: str
    user_id: str
    name: str
    created_at: datetime
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class ApiKeyIn(_In):
    """A new API key."""

    name: Name
    user_id: str | None = None
    """Whose key (default: the caller's own)."""
    expires_at: datetime | None = None
    """When it stops working (default: never)."""


class ApiKeyCreated(_Out):
    """A new key and its token, shown this once."""

    key: ApiKeyOut
    token: str


class SpanEventOut(_Out):
    """Something that happened during a span (a retry, a recovery rung, an exception)."""

    name: str
    at: datetime
    attributes: dict[str, Any] = Field(default_factory=dict[str, Any])


class SpanOut(_Out):
    """One span of an execution's trace; `depth` places it in its tree (0: a root)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    name: str
    kind: str
    depth: int
    start: datetime
    end: datetime
    duration_s: float
    status: Literal["unset", "ok", "error"]
    status_message: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict[str, Any])
    events: list[SpanEventOut] = Field(default_factory=list[SpanEventOut])


class TraceOut(_Out):
    """The spans of an execution, depth first (each after its parent, siblings by start)."""

    execution_id: str
    spans: list[SpanOut]


class Health(_Out):
    """Liveness or readiness."""

    status: Literal["ok", "unavailable"]
    detail: str | None = None


class ProblemOut(_Out):
    """An error (RFC 9457 problem details, ``application/problem+json``)."""

    model_config = ConfigDict(extra="allow")

    type: str
    """Stable URI per kind of error, e.g. ``https://baton.dev/problems/not-found``."""
    title: str
    status: int
    detail: str
    hint: str | None = None
    """How to fix it, when known."""
    errors: list[dict[str, Any]] | None = None
    """Each problem of an invalid request or plan."""
