"""``/api/logs``: search, export and follow the log aggregator's records of a workspace.

Every route needs ``executions:read`` and sees the caller's workspace only: another
workspace's records are never found, whatever the filters. Query syntax: words (all must
occur), ``prefix*``, ``"a phrase"``; ``level`` means that level or worse; ``since`` is
``15m`` / ``2h`` / ``3d`` ago or ISO 8601 (see `baton.store.logs`).

- ``GET /api/logs``: one page, newest first; pass ``next_cursor`` as ``cursor`` for more.
- ``GET /api/logs/export?format=jsonl|csv``: every match, oldest first, streamed.
- ``GET /api/logs/stream``: Server-Sent Events, one ``log`` event per record with its id as
  ``id``; a client that reconnects with ``Last-Event-ID`` gets every record after it.
  Without one, the newest ``backlog`` records come first. The store is polled every half
  second (the aggregator writes every half second), so records of other processes stream
  too.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sse_starlette import EventSourceResponse

from baton.api.auth import Services, requires
from baton.api.problems import INVALID_REQUEST, ApiProblem
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.errors import UsageError
from baton.observability.logs_format import export_lines, parse_since, record_json
from baton.store.logs import LogRecord, LogStore, parse_level, parse_query
from baton.store.scoped import WorkspaceExecutions
from baton.streaming.sse import parse_last_event_id
from baton.wire import Page

router = APIRouter(prefix="/api/logs", tags=["logs"])

Reader = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_READ))]

POLL_S = 0.5
"""How often a stream asks the store for new records."""

LevelName = Literal["debug", "info", "warning", "error", "critical"]
QueryText = Annotated[
    str, Query(max_length=500, description='Words, prefix*, "a phrase" (empty: everything).')
]
ExecutionFilter = Annotated[str | None, Query(max_length=40, description="Only this execution.")]
LevelFilter = Annotated[LevelName | None, Query(description="This level or worse.")]
SinceFilter = Annotated[
    str | None, Query(max_length=64, description="Logged since: 15m, 2h, 3d ago or ISO 8601.")
]


class LogOut(BaseModel):
    """One log record."""

    model_config = ConfigDict(extra="ignore")

    id: int
    at: datetime
    level: LevelName
    logger: str
    message: str
    workspace_id: str | None = None
    execution_id: str | None = None
    step_id: str | None = None
    trace_id: str | None = None
    span_id: str | None = None
    extra: dict[str, Any] = {}


def _logs(services: Services) -> LogStore:
    return services.baton.logs


def _log_out(record: LogRecord) -> LogOut:
    return LogOut.model_validate(record_json(record))


def _filters(
    q: str, level: str | None, since: str | None
) -> tuple[str, int | None, datetime | None]:
    """Check the query, level and time up front: a problem is a 400 before anything streams."""
    try:
        parse_query(q)
        return q, None if level is None else parse_level(level), _since(since)
    except UsageError as exc:
        raise ApiProblem(INVALID_REQUEST, exc.message, hint=exc.hint) from None


def _since(text: str | None) -> datetime | None:
    return None if text is None else parse_since(text)


def _cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdecimal() or len(cursor) > 19:
        raise ApiProblem(
            INVALID_REQUEST,
            f"cursor {cursor!r} is not one this API gave",
            hint="pass the next_cursor of the previous page",
        )
    return int(cursor)


@router.get("", summary="Search the workspace's log records, newest first")
async def search_logs(
    services: Services,
    principal: Reader,
    q: QueryText = "",
    execution_id: ExecutionFilter = None,
    level: LevelFilter = None,
    since: SinceFilter = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=32)] = None,
) -> Page[LogOut]:
    """One page; pass `next_cursor` back as `cursor` for the next one."""
    query, min_level, after = _filters(q, level, since)
    before = _cursor(cursor)
    rows = await _logs(services).search(
        query,
        workspace_id=principal.workspace_id,
        execution_id=execution_id,
        min_level=min_level,
        since=after,
        limit=limit + 1,
        before_id=before,
    )
    more = len(rows) > limit
    rows = rows[:limit]
    return Page[LogOut](
        items=[_log_out(r) for r in rows],
        next_cursor=str(rows[-1].id) if more and rows else None,
    )


_EXPORT_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get(
    "/export",
    summary="Every matching log record of the workspace, oldest first, as a file",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "JSON lines (one record per line) or CSV with a header row",
            "content": {
                "application/x-ndjson": {"schema": {"type": "string"}},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
)
async def export_logs(
    services: Services,
    principal: Reader,
    format: Literal["jsonl", "csv"] = "jsonl",
    q: QueryText = "",
    execution_id: ExecutionFilter = None,
    level: LevelFilter = None,
    since: SinceFilter = None,
) -> StreamingResponse:
    """Streamed in chunks as it is read; ``Content-Disposition`` names a file."""
    query, min_level, after = _filters(q, level, since)
    records = _logs(services).export(
        query,
        workspace_id=principal.workspace_id,
        execution_id=execution_id,
        min_level=min_level,
        since=after,
    )
    return StreamingResponse(
        export_lines(records, format),
        media_type=_EXPORT_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="baton-logs.{format}"'},
    )


@router.get(
    "/stream",
    summary="The workspace's log records, live (resume with Last-Event-ID)",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": "An event stream: `id` is the record's id, `event` is `log`, "
            "`data` the record as JSON",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def stream_logs(
    services: Services,
    principal: Reader,
    execution_id: ExecutionFilter = None,
    level: LevelFilter = None,
    backlog: Annotated[int, Query(ge=0, le=1000)] = 10,
    last_event_id: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> EventSourceResponse:
    """Records after Last-Event-ID (else the newest `backlog` first), then live."""
    try:
        resume_after = None if last_event_id is None else parse_last_event_id(last_event_id)
    except UsageError as exc:
        raise ApiProblem(INVALID_REQUEST, exc.message, hint=exc.hint) from None
    _, min_level, _ = _filters("", level, None)
    store = _logs(services)
    workspace_id = principal.workspace_id
    if execution_id is not None:
        # An unknown id (or another workspace's) would tail nothing, forever: 404 instead.
        await WorkspaceExecutions(services.baton.store, workspace_id).get(execution_id)

    async def items() -> AsyncIterator[dict[str, str]]:
        after = resume_after
        if after is None:
            recent = await store.search(
                workspace_id=workspace_id,
                execution_id=execution_id,
                min_level=min_level,
                limit=max(backlog, 1),
            )
            after = recent[0].id if recent else 0
            for record in reversed(recent[:backlog]):
                yield _event(record)
        while True:
            batch = await store.tail(
                after, workspace_id=workspace_id, execution_id=execution_id, min_level=min_level
            )
            for record in batch:
                yield _event(record)
            if batch:
                after = batch[-1].id
            else:
                await anyio.sleep(POLL_S)

    settings = services.settings
    return EventSourceResponse(
        items(),
        ping=settings.stream_heartbeat_s,
        send_timeout=settings.stream_send_timeout_s,
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _event(record: LogRecord) -> dict[str, str]:
    return {
        "id": str(record.id),
        "event": "log",
        "data": json.dumps(record_json(record), ensure_ascii=False, default=str),
    }
