"""``/api/health`` (the process answers) and ``/api/ready`` (it can serve: the store answers)."""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from baton.api.auth import Services
from baton.wire import Health

router = APIRouter(prefix="/api", tags=["health"])
log = logging.getLogger("baton.api")

READY_TIMEOUT_S = 5.0


@router.get("/health", summary="Liveness: the server process answers")
async def health() -> Health:
    """Always ok while the process serves requests."""
    return Health(status="ok")


@router.get(
    "/ready",
    summary="Readiness: the database answers",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database does not answer"}},
)
async def ready(services: Services) -> Health | JSONResponse:
    """503 while the store cannot be read."""
    try:
        with anyio.fail_after(READY_TIMEOUT_S):
            await services.baton.store.list_executions(limit=1)
    except Exception as exc:  # any failure means "not ready"; the reason goes to the log
        log.warning("readiness check failed: %s", exc)
        body = Health(status="unavailable", detail="the database does not answer")
        return JSONResponse(body.model_dump(), status_code=503)
    return Health(status="ok")
