"""``GET /api/orchestrate/{id}/trace``: the spans of an execution, for the dashboard.

The spans are those the tracing exporter kept in the trace store (see
`baton.observability.tracing`); the store is the one of the engine's `TracingInterceptor`.
An execution of another workspace is the same 404 as a missing one; an execution without
kept spans (tracing off, or not kept in the database) has an empty list.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from baton.api.auth import Services, requires
from baton.app import Baton
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.observability.tracing_view import trace_out
from baton.store.scoped import WorkspaceExecutions
from baton.store.traces import TraceStore
from baton.wire import TraceOut

__all__ = ["router", "trace_store_of"]

router = APIRouter(prefix="/api/orchestrate", tags=["executions"])

Reader = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_READ))]


def trace_store_of(baton: Baton) -> TraceStore | None:
    """Where the engine's tracing keeps spans (None: tracing is off or keeps none)."""
    return baton.tracing.traces


@router.get(
    "/{execution_id}/trace",
    operation_id="get_trace",
    summary="The spans of an execution's trace, depth first",
)
async def get_trace(execution_id: str, services: Services, principal: Reader) -> TraceOut:
    """Every kept span of the execution with its depth, duration, status and events."""
    await WorkspaceExecutions(services.baton.store, principal.workspace_id).get(execution_id)
    store = trace_store_of(services.baton)
    if store is None:
        return trace_out(execution_id, [])
    return trace_out(
        execution_id, await store.spans(execution_id, workspace_id=principal.workspace_id)
    )
