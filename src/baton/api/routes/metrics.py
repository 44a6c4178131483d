"""``/metrics``: the engine's Prometheus metrics, for a scraper holding an admin's API key.

Prometheus sends the key as a bearer token (``authorization: {credentials: baton_...}`` in
its scrape config; a service account with the admin role is the usual holder). The numbers
are the whole process's, every workspace together, which is why only admins may read them;
labels name agents, statuses and error classes, never workspace data.

Before each scrape the pending-approvals gauge is read from the approval store (bounded by
`REFRESH_TIMEOUT_S`: when the database does not answer, the scrape still answers, with the
last known value, since that is when metrics matter most).
"""

from __future__ import annotations

import logging
from typing import Annotated

import anyio
from fastapi import APIRouter, Depends
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST

from baton.api.auth import Services, requires
from baton.api.services import ApiServices
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.errors import NotFoundError
from baton.observability.metrics import Metrics

router = APIRouter(tags=["metrics"])
log = logging.getLogger("baton.api")

REFRESH_TIMEOUT_S = 2.0
"""Longest a scrape waits for the approval store before answering without it."""

Scraper = Annotated[Principal, Depends(requires(Permission.METRICS_READ))]


def metrics_of(services: ApiServices) -> Metrics:
    """The engine's metrics; a 404 problem when the engine runs without them."""
    found = services.baton.metrics
    if found is None:
        raise NotFoundError(
            "metrics are turned off on this server", hint="set BATON_METRICS_ENABLED=true"
        )
    return found


@router.get(
    "/metrics",
    summary="Prometheus metrics of the engine (text exposition format)",
    response_class=Response,
    responses={
        200: {
            "description": "Every metric family, in the Prometheus text format",
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
        }
    },
)
async def scrape(services: Services, principal: Scraper) -> Response:
    """Executions, steps, errors, approvals, model usage, rate limits and SSE clients."""
    metrics = metrics_of(services)
    approvals = services.baton.approvals
    with anyio.move_on_after(REFRESH_TIMEOUT_S) as scope:
        try:
            await metrics.refresh(approvals.store, now=approvals.clock())
        except Exception as exc:  # the scrape must answer even when the store does not
            log.warning("could not count pending approvals for /metrics: %s", exc)
    if scope.cancelled_caught:
        log.warning("counting pending approvals for /metrics took over %ss", REFRESH_TIMEOUT_S)
    return Response(content=metrics.render(), media_type=metrics.content_type)
