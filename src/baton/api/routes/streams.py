"""Live streams over Server-Sent Events.

``GET /api/orchestrate/{id}/stream`` sends an execution's events, each with its seq as
``id``. A client that reconnects with ``Last-Event-ID`` gets every event after it (from the
durable log) and then the live ones, with no gap and no duplicate (`EventBus.subscribe`
guarantees it). A finished execution's stream replays and closes. A client that falls
``BATON_STREAM_QUEUE_SIZE`` events behind, or accepts nothing for
``BATON_STREAM_SEND_TIMEOUT_S``, is disconnected and resumes by id: it never slows the
execution or the other clients. A problem found once the stream has begun (a
``Last-Event-ID`` past the end of a running execution's log) is sent as an ``error`` event
with the problem details as data, and the stream closes. ``GET /api/stream`` is the
workspace's execution-level events (started, waiting, finished), live.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Request
from sse_starlette import EventSourceResponse

from baton.api.auth import Services, requires
from baton.api.problems import problem_for
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.errors import UsageError
from baton.store.scoped import WorkspaceExecutions
from baton.streaming.bus import SubscriberDropped, Subscription
from baton.streaming.sse import encode, encode_workspace, parse_last_event_id

router = APIRouter(tags=["streams"])

Reader = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_READ))]

_SSE_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "An event stream: `id` is the event's seq, `event` its kind, `data` "
        "the event as JSON",
        "content": {"text/event-stream": {"schema": {"type": "string"}}},
    }
}


@router.get(
    "/api/orchestrate/{execution_id}/stream",
    summary="An execution's events, live (resume with Last-Event-ID)",
    response_class=EventSourceResponse,
    responses=_SSE_DOC,
)
async def execution_stream(
    execution_id: str,
    request: Request,
    services: Services,
    principal: Reader,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
    follow: bool = False,
) -> EventSourceResponse:
    """Replay after Last-Event-ID, then live; closes after ``execution_finished``."""
    after = parse_last_event_id(last_event_id)
    await WorkspaceExecutions(services.baton.store, principal.workspace_id).get(execution_id)
    subscription = services.bus.subscribe(
        execution_id, after=after, store=services.baton.store, follow=follow
    )
    return _respond(services, subscription, encode)


@router.get(
    "/api/stream",
    summary="The workspace's execution-level events (started, waiting, finished), live",
    response_class=EventSourceResponse,
    responses=_SSE_DOC,
)
async def workspace_stream(services: Services, principal: Reader) -> EventSourceResponse:
    """Every execution of the caller's workspace; ids are ``EXECUTION_ID:SEQ``."""
    return _respond(
        services, services.bus.subscribe_workspace(principal.workspace_id), encode_workspace
    )


def _respond(services: Services, subscription: Subscription, encoder: Any) -> EventSourceResponse:
    async def items() -> AsyncIterator[dict[str, str]]:
        try:
            async with subscription:
                async for item in subscription:
                    yield encoder(item)
        except SubscriberDropped:
            # Too far behind: end this response; the client resumes by Last-Event-ID.
            return
        except UsageError as exc:
            # Found once the stream has begun (the 200 is sent), e.g. a Last-Event-ID past
            # the end of a running execution's log: say so in the stream, then close it.
            kind = problem_for(exc)
            problem = {"type": kind.uri, "title": kind.title, "status": kind.status}
            problem |= {"detail": exc.message, "hint": exc.hint}
            yield {"event": "error", "data": json.dumps(problem)}

    settings = services.settings
    return EventSourceResponse(
        items(),
        send_timeout=settings.stream_send_timeout_s,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
