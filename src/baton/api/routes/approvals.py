"""``/api/approvals``: the human-in-the-loop queue of the caller's workspace."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from baton.api.auth import Services, requires
from baton.api.convert import approval_out
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.errors import UsageError
from baton.events import ExecutionStatus
from baton.wire import ApprovalOut, ApproveIn, RejectIn

router = APIRouter(prefix="/api/approvals", tags=["approvals"])

Reader = Annotated[Principal, Depends(requires(Permission.APPROVALS_READ))]
Decider = Annotated[Principal, Depends(requires(Permission.APPROVALS_DECIDE))]


@router.get("", summary="Pending approval requests, oldest first")
async def list_approvals(
    services: Services,
    principal: Reader,
    include_decided: Annotated[bool, Query()] = False,
) -> list[ApprovalOut]:
    """Each with the inputs it would run with, its impact estimate and reversibility."""
    rows = await services.baton.approvals.list(
        include_decided=include_decided, workspace_id=principal.workspace_id
    )
    return [approval_out(a) for a in rows]


@router.get("/{approval_id}", summary="One approval request")
async def get_approval(approval_id: str, services: Services, principal: Reader) -> ApprovalOut:
    """404 if it is not in the caller's workspace."""
    return approval_out(
        await services.baton.approvals.get(approval_id, workspace_id=principal.workspace_id)
    )


@router.post("/{approval_id}/approve", summary="Approve a gated step (optionally edit its inputs)")
async def approve(
    approval_id: str, body: ApproveIn, services: Services, principal: Decider
) -> ApprovalOut:
    """The step may run once, with these inputs, in this plan version."""
    decided = await services.baton.approvals.approve(
        approval_id,
        by=principal.name,
        edited_inputs=body.edited_inputs,
        workspace_id=principal.workspace_id,
    )
    if body.resume:
        await _resume_if_waiting(services, decided.execution_id)
    return approval_out(decided)


@router.post("/{approval_id}/reject", summary="Reject a gated step, saying why")
async def reject(
    approval_id: str, body: RejectIn, services: Services, principal: Decider
) -> ApprovalOut:
    """The step fails, and the steps depending on it are skipped, when the execution goes on."""
    decided = await services.baton.approvals.reject(
        approval_id, by=principal.name, reason=body.reason, workspace_id=principal.workspace_id
    )
    if body.resume:
        await _resume_if_waiting(services, decided.execution_id)
    return approval_out(decided)


async def _resume_if_waiting(services: Services, execution_id: str) -> None:
    record = await services.baton.store.get_execution(execution_id)
    if record.status is ExecutionStatus.WAITING and execution_id not in services.runs.running:
        # Someone else resuming it at the same moment is fine: one of us runs it.
        with contextlib.suppress(UsageError):
            await services.runs.resume(execution_id)
