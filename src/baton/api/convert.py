"""Records of the store and the engine, as the API's wire shapes (`baton.wire`)."""

from __future__ import annotations

import dataclasses
from typing import Any

from baton.agents.registry import AgentRegistry, AgentStats, RegisteredAgent
from baton.core.estimate import estimate
from baton.core.plan import Plan
from baton.core.spending import ExecutionUsage
from baton.events import EVENT_ADAPTER
from baton.llm.usage import UsageTotals
from baton.store.approvals import Approval
from baton.store.feedback import Feedback
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent
from baton.store.tenancy import ApiKey, User, Workspace
from baton.wire import (
    AgentOut,
    AgentStatsOut,
    ApiKeyOut,
    ApprovalOut,
    EventOut,
    ExecutionDetail,
    ExecutionOut,
    ExecutionUsageOut,
    FeedbackOut,
    MemberOut,
    PlanPreview,
    StepOut,
    UsageOut,
    WorkspaceOut,
)

__all__ = [
    "agent_out",
    "approval_out",
    "event_out",
    "execution_detail",
    "execution_out",
    "feedback_out",
    "key_out",
    "member_out",
    "preview_out",
    "step_out",
    "usage_out",
    "workspace_out",
]


def execution_out(record: ExecutionRecord) -> ExecutionOut:
    """An execution without its plan."""
    return ExecutionOut(
        id=record.id,
        name=record.name,
        request=record.request,
        status=record.status,
        created_at=record.created_at,
        started_at=record.started_at,
        finished_at=record.finished_at,
        error=record.error,
        cancel_requested=record.cancel_requested,
        workspace_id=record.workspace_id,
    )


def execution_detail(
    record: ExecutionRecord, usage: ExecutionUsage | None = None
) -> ExecutionDetail:
    """An execution with its plan, its plan's version and (when given) its model usage."""
    version = record.plan.get("version", 1)
    return ExecutionDetail(
        **execution_out(record).model_dump(),
        plan=record.plan,
        plan_version=version if isinstance(version, int) else 1,
        usage=usage_out(usage) if usage is not None else None,
    )


def usage_out(usage: ExecutionUsage) -> ExecutionUsageOut:
    """An execution's model usage: planning, each step, the total."""

    def totals(t: UsageTotals) -> UsageOut:
        return UsageOut(
            calls=t.calls,
            input_tokens=t.input_tokens,
            output_tokens=t.output_tokens,
            cost_usd=t.cost_usd,
            unpriced_calls=t.unpriced_calls,
        )

    return ExecutionUsageOut(
        planning=totals(usage.planning),
        steps={step_id: totals(t) for step_id, t in usage.steps.items()},
        total=totals(usage.total),
    )


def step_out(record: StepRecord) -> StepOut:
    """A step row."""
    return StepOut(**dataclasses.asdict(record))


def event_out(stored: StoredEvent) -> EventOut:
    """An event with its log position."""
    data: dict[str, Any] = EVENT_ADAPTER.dump_python(stored.event, mode="json")
    return EventOut(seq=stored.seq, **data)


def preview_out(plan: Plan, registry: AgentRegistry) -> PlanPreview:
    """A dry run's answer: the plan, its critical path and estimated duration."""
    est = estimate(plan, registry)
    return PlanPreview(
        plan=plan.model_dump(mode="json", exclude_none=True),
        critical_path=est.path,
        estimated_duration_s=est.total_s,
    )


def approval_out(approval: Approval) -> ApprovalOut:
    """An approval request (the binding hashes stay on the server)."""
    return ApprovalOut(
        id=approval.id,
        workspace_id=approval.workspace_id,
        execution_id=approval.execution_id,
        step_id=approval.step_id,
        agent=approval.agent,
        inputs=approval.inputs,
        impact=dict(approval.impact),
        reason=approval.reason,
        status=approval.status.value,
        created_at=approval.created_at,
        expires_at=approval.expires_at,
        decided_at=approval.decided_at,
        decided_by=approval.decided_by,
        decision_reason=approval.decision_reason,
        edited_inputs=approval.edited_inputs,
    )


def _stats_out(stats: AgentStats) -> AgentStatsOut:
    return AgentStatsOut(
        runs=stats.runs,
        successes=stats.successes,
        failures=stats.failures,
        success_rate=stats.success_rate,
        mean_duration_s=stats.mean_duration_s,
        last_error=stats.last_error,
    )


def agent_out(entry: RegisteredAgent, stats: AgentStats, *, detail: bool) -> AgentOut:
    """An agent's spec and live stats; `detail` adds its schemas and examples."""
    spec = entry.agent.spec
    out = AgentOut(
        name=spec.name,
        description=spec.description,
        risk=spec.risk.value,
        idempotent=spec.idempotent,
        cacheable=spec.cacheable,
        rate_limit_key=spec.rate_limit_key,
        tags=list(spec.tags),
        source=entry.source,
        stats=_stats_out(stats),
    )
    if detail:
        out.input_schema = spec.input_model.model_json_schema()
        out.output_schema = spec.output_model.model_json_schema()
        out.examples = list(spec.examples)
    return out


def feedback_out(feedback: Feedback) -> FeedbackOut:
    """Recorded feedback."""
    return FeedbackOut(
        id=feedback.id,
        execution_id=feedback.execution_id,
        user_id=feedback.user_id,
        rating=feedback.rating,
        comment=feedback.comment,
        created_at=feedback.created_at,
    )


def workspace_out(workspace: Workspace) -> WorkspaceOut:
    """A workspace."""
    return WorkspaceOut(id=workspace.id, name=workspace.name, created_at=workspace.created_at)


def member_out(user: User) -> MemberOut:
    """A member of a workspace."""
    return MemberOut(
        id=user.id,
        workspace_id=user.workspace_id,
        name=user.name,
        kind=user.kind,
        role=user.role.value,  # type: ignore[arg-type]  # Role values are the literal's
        created_at=user.created_at,
        disabled=user.disabled,
    )


def key_out(key: ApiKey) -> ApiKeyOut:
    """An API key without its secret hash."""
    return ApiKeyOut(
        id=key.id,
        workspace_id=key.workspace_id,
        user_id=key.user_id,
        name=key.name,
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )
