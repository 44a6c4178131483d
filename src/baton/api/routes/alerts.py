"""``/api/alerts``: alerts firing now (and recently resolved ones), as the caller may see them.

A caller sees the service-wide alerts (memory, error rate, rate limits) and those of their
own workspace (an execution running long, the workspace's success rate); never another
workspace's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from baton.api.auth import Services, requires
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.store.alerts import Alert, Severity

__all__ = ["AlertOut", "router"]

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

Reader = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_READ))]


class AlertOut(BaseModel):
    """An alert: a condition an alert rule found, from when it fired until it resolved."""

    id: str
    rule: str
    key: str
    severity: Severity
    message: str
    workspace_id: str | None
    """None: about the whole service."""
    labels: dict[str, str]
    fired_at: datetime
    resolved_at: datetime | None
    firing: bool


def alert_out(alert: Alert) -> AlertOut:
    """The API shape of an alert."""
    return AlertOut(
        id=alert.id,
        rule=alert.rule,
        key=alert.key,
        severity=alert.severity,
        message=alert.message,
        workspace_id=alert.workspace_id,
        labels=dict(alert.labels),
        fired_at=alert.fired_at,
        resolved_at=alert.resolved_at,
        firing=alert.firing,
    )


@router.get("", summary="Alerts firing now (resolved ones too if asked), newest first")
async def list_alerts(
    services: Services,
    principal: Reader,
    include_resolved: Annotated[bool, Query()] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[AlertOut]:
    """The service-wide alerts and the caller's workspace's."""
    rows = await services.baton.alerts.list(
        include_resolved=include_resolved, visible_to=principal.workspace_id, limit=limit
    )
    return [alert_out(a) for a in rows]
