"""``/api/orchestrate``: start, read, cancel, resume executions, and give feedback on them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response, status

from baton.api.auth import Services, requires
from baton.api.convert import (
    event_out,
    execution_detail,
    execution_out,
    feedback_out,
    preview_out,
    step_out,
)
from baton.api.problems import INVALID_REQUEST, ApiProblem
from baton.core.plan import Plan
from baton.core.plan_loader import plan_from_data
from baton.core.spending import budget_of, with_budget
from baton.core.validation import validate_plan
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.events import ExecutionStatus
from baton.store.approvals import utcnow
from baton.store.feedback import Feedback, new_feedback_id
from baton.store.scoped import WorkspaceExecutions
from baton.wire import (
    EventOut,
    ExecutionDetail,
    ExecutionOut,
    FeedbackIn,
    FeedbackOut,
    OrchestrateIn,
    OrchestrateOut,
    Page,
    StepOut,
)

router = APIRouter(prefix="/api/orchestrate", tags=["executions"])

Reader = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_READ))]
Runner = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_RUN))]
Canceller = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_CANCEL))]
FeedbackWriter = Annotated[Principal, Depends(requires(Permission.FEEDBACK_WRITE))]


# OpenAPI links: what a client (and schemathesis' stateful tests) can do with a new execution.
_EXECUTION_LINKS = {
    name: {
        "operationId": operation,
        "parameters": {"execution_id": "$response.body#/execution/id"},
    }
    for name, operation in (
        ("GetExecution", "get_execution"),
        ("GetSteps", "get_steps"),
        ("GetEvents", "get_events"),
        ("CancelExecution", "cancel_execution"),
        ("ResumeExecution", "resume_execution"),
        ("GiveFeedback", "give_feedback"),
    )
}


def scoped(services: Services, principal: Principal) -> WorkspaceExecutions:
    """The principal's workspace's executions."""
    return WorkspaceExecutions(services.baton.store, principal.workspace_id)


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start an execution from a request or a plan (or plan only, with dry_run)",
    operation_id="orchestrate",
    responses={
        200: {"model": OrchestrateOut, "description": "dry run: the plan, not run"},
        202: {"description": "started", "links": _EXECUTION_LINKS},
    },
)
async def orchestrate(
    body: OrchestrateIn, services: Services, principal: Runner, response: Response
) -> OrchestrateOut:
    """Plan (or take) the plan, validate it, and start it in the background."""
    if body.request is None and body.plan is None:
        raise ApiProblem(
            INVALID_REQUEST,
            "give `request` (plain language) or `plan` (a plan document)",
            hint="with both, the plan runs and the request is recorded with it",
        )
    baton = services.baton
    budget = budget_of(body.max_tokens, body.max_cost_usd, names=("max_tokens", "max_cost_usd"))
    plan: Plan
    if body.plan is not None:
        plan = plan_from_data(body.plan, source="request body")
        validate_plan(plan, baton.registry)
    else:
        assert body.request is not None
        plan = await baton.plan(body.request, budget=budget)
    plan = with_budget(plan, budget)
    if body.dry_run:
        response.status_code = status.HTTP_200_OK
        return OrchestrateOut(preview=preview_out(plan, baton.registry))
    record = await services.runs.start(
        plan, request=body.request, workspace_id=principal.workspace_id
    )
    response.headers["Location"] = f"/api/orchestrate/{record.id}"
    return OrchestrateOut(execution=execution_out(record))


@router.get("", summary="List executions, newest first")
async def list_executions(
    services: Services,
    principal: Reader,
    status_filter: Annotated[ExecutionStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[ExecutionOut]:
    """One page; pass `next_cursor` back as `cursor` for the next one."""
    rows = await scoped(services, principal).list(
        limit=limit + 1, status=status_filter, before=cursor
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[ExecutionOut](
        items=[execution_out(r) for r in rows],
        next_cursor=rows[-1].id if more and rows else None,
    )


@router.get("/{execution_id}", operation_id="get_execution", summary="An execution with its plan")
async def get_execution(
    execution_id: str, services: Services, principal: Reader
) -> ExecutionDetail:
    """The execution, its plan's version and model usage (404 if not in the workspace)."""
    record = await scoped(services, principal).get(execution_id)
    return execution_detail(record, await services.baton.usage(record.id))


@router.get(
    "/{execution_id}/steps",
    operation_id="get_steps",
    summary="The steps of an execution, in plan order",
)
async def get_steps(execution_id: str, services: Services, principal: Reader) -> list[StepOut]:
    """Every step with its status, attempts, output and error."""
    return [step_out(s) for s in await scoped(services, principal).steps(execution_id)]


@router.get(
    "/{execution_id}/events", operation_id="get_events", summary="The event log of an execution"
)
async def get_events(
    execution_id: str,
    services: Services,
    principal: Reader,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=5000)] = 1000,
) -> list[EventOut]:
    """Events with ``seq > after``, oldest first."""
    events = await scoped(services, principal).events(execution_id, after=after, limit=limit)
    return [event_out(e) for e in events]


@router.post(
    "/{execution_id}/cancel",
    operation_id="cancel_execution",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask for an execution to be cancelled",
)
async def cancel_execution(
    execution_id: str, services: Services, principal: Canceller
) -> ExecutionOut:
    """Cancelled at once if nobody runs it, else within about a second (409 if finished)."""
    await scoped(services, principal).get(execution_id)
    if execution_id in services.runs.running:
        # Running here (or about to): its runner sees the flag and stops within a second.
        return execution_out(await services.baton.store.request_cancel(execution_id))
    return execution_out(await services.baton.orchestrator.cancel(execution_id))


@router.post(
    "/{execution_id}/resume",
    operation_id="resume_execution",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Go on with a cancelled, waiting or interrupted execution",
)
async def resume_execution(
    execution_id: str, services: Services, principal: Runner
) -> ExecutionOut:
    """Steps that finished are not run again."""
    await scoped(services, principal).get(execution_id)
    return execution_out(await services.runs.resume(execution_id))


@router.post(
    "/{execution_id}/feedback",
    operation_id="give_feedback",
    status_code=status.HTTP_201_CREATED,
    summary="Say how an execution went",
)
async def give_feedback(
    execution_id: str, body: FeedbackIn, services: Services, principal: FeedbackWriter
) -> FeedbackOut:
    """Recorded for the learning engine."""
    await scoped(services, principal).get(execution_id)
    feedback = Feedback(
        id=new_feedback_id(),
        workspace_id=principal.workspace_id,
        execution_id=execution_id,
        user_id=principal.user_id,
        rating=body.rating,
        comment=body.comment,
        created_at=utcnow(),
    )
    await services.feedback.add(feedback)
    return feedback_out(feedback)
