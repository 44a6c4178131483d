"""`BatonClient`: the REST API of a baton server (``baton serve``), typed, async.

```python
async with BatonClient("http://127.0.0.1:8000", api_key) as baton:
    started = await baton.orchestrate("read notes.txt and summarize it")
    async for seq, event in baton.stream(started.execution.id):
        print(seq, event.kind)
    steps = await baton.steps(started.execution.id)
```

Every method answers with the shapes of `baton.wire`; every failure is a `BatonError`
(see `baton.client.errors`). `BatonClient.stream` follows an execution's Server-Sent
Events and, when the connection drops before ``execution_finished``, reconnects with
``Last-Event-ID`` so each event reaches the caller exactly once.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self, TypeVar, overload
from urllib.parse import quote

import anyio
import httpx
from httpx_sse import SSEError, aconnect_sse
from pydantic import BaseModel, TypeAdapter, ValidationError

from baton.client.errors import ServerError, error_from_response, error_from_transport
from baton.errors import BatonError, UsageError
from baton.events import EVENT_ADAPTER, ExecutionStatus, RunEvent
from baton.wire import (
    AgentOut,
    ApiKeyCreated,
    ApiKeyIn,
    ApiKeyOut,
    ApprovalOut,
    ApproveIn,
    EventOut,
    ExecutionDetail,
    ExecutionOut,
    FeedbackIn,
    FeedbackOut,
    Health,
    MemberIn,
    MemberOut,
    MemberUpdate,
    OrchestrateIn,
    OrchestrateOut,
    Page,
    PrincipalOut,
    RejectIn,
    StepOut,
    WorkspaceCreated,
    WorkspaceIn,
    WorkspaceOut,
)

__all__ = ["BatonClient"]

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)

Role = Literal["admin", "member", "viewer"]

_EXECUTIONS = "/api/orchestrate"
_STEPS = TypeAdapter(list[StepOut])
_EVENTS = TypeAdapter(list[EventOut])
_APPROVALS = TypeAdapter(list[ApprovalOut])
_AGENTS = TypeAdapter(list[AgentOut])
_MEMBERS = TypeAdapter(list[MemberOut])
_KEYS = TypeAdapter(list[ApiKeyOut])
_WORKSPACES = TypeAdapter(list[WorkspaceOut])
_EXECUTION_PAGE = TypeAdapter(Page[ExecutionOut])

_MAX_BACKOFF_S = 5.0


@dataclass(slots=True)
class _Cursor:
    """Where a stream is: the last seq delivered, and whether this connection brought any."""

    last: int | None
    received: bool = False


class BatonClient:
    """An async client of one baton server, authenticated with one API key.

    Use it as an async context manager (or call `aclose`), so its connections are closed.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
        stream_retries: int = 5,
        stream_backoff_s: float = 0.25,
        stream_read_timeout_s: float = 60.0,
    ) -> None:
        """Prepare a client (nothing is sent until a method is called).

        Args:
            base_url: The server's address, e.g. ``http://127.0.0.1:8000`` (``BATON_URL``).
            api_key: Sent as ``Authorization: Bearer <key>`` (``BATON_API_KEY``); None sends
                none (only `health` and `ready` answer without one).
            timeout: Seconds to connect, and to wait for each answer.
            transport: An httpx transport to use instead of the network (tests, proxies).
            stream_retries: Reconnections `stream` tries in a row, without receiving an
                event in between, before it gives up.
            stream_backoff_s: Wait before the first reconnection; doubled for each next one
                (at most 5 s).
            stream_read_timeout_s: A stream that sends nothing, not even a heartbeat, for this
                long is taken as dropped and reconnected.

        Raises:
            UsageError: `base_url` is not an http:// or https:// URL.
        """
        url = base_url.strip().rstrip("/")
        try:
            parsed = httpx.URL(url)
        except httpx.InvalidURL:
            parsed = httpx.URL()
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise UsageError(
                f"{base_url!r} is not the address of a baton server",
                hint="use an http:// or https:// URL, e.g. http://127.0.0.1:8000 (BATON_URL)",
            )
        self.base_url = url
        """The server's address, without a trailing slash."""
        headers = {"Accept": "application/json", "User-Agent": "baton-client"}
        if api_key:
            headers["Authorization"] = f"Bearer {api_key}"
        self._stream_retries = stream_retries
        self._stream_backoff_s = stream_backoff_s
        self._stream_timeout = httpx.Timeout(timeout, read=stream_read_timeout_s)
        self._http = httpx.AsyncClient(
            base_url=url, headers=headers, timeout=timeout, transport=transport
        )

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    # ---- executions ---------------------------------------------------------------------

    async def orchestrate(
        self,
        request: str | None = None,
        plan: Mapping[str, Any] | None = None,
        dry_run: bool = False,
        max_tokens: int | None = None,
        max_cost_usd: float | None = None,
    ) -> OrchestrateOut:
        """Start an execution of a plain-language `request` or of a `plan`.

        Given both, the plan runs and the request is recorded as what it was made for.

        With `dry_run`, nothing runs: the answer's ``preview`` is the validated plan, its
        critical path and estimated duration. Otherwise ``execution`` is the execution,
        started in the server's background.

        `max_tokens` and `max_cost_usd` set the execution's budget for model calls
        (planning included); the run stops with a clear error when it is spent.

        Raises:
            PlanningError: the request could not be planned.
            PlanValidationError: the plan is wrong (every problem is listed).
            UsageError: neither `request` nor `plan` was given, or a limit is not positive.
        """
        body = _model(
            OrchestrateIn,
            request=request,
            plan=dict(plan) if plan is not None else None,
            dry_run=dry_run,
            max_tokens=max_tokens,
            max_cost_usd=max_cost_usd,
        )
        return await self._call("POST", _EXECUTIONS, OrchestrateOut, body=body)

    async def get_execution(self, execution_id: str) -> ExecutionDetail:
        """An execution with its plan (`NotFoundError` if it is not in the key's workspace)."""
        return await self._call("GET", _execution(execution_id), ExecutionDetail)

    async def list_executions(
        self,
        status: ExecutionStatus | None = None,
        limit: int = 20,
        cursor: str | None = None,
    ) -> Page[ExecutionOut]:
        """One page of executions, newest first; pass its `next_cursor` as `cursor` for more."""
        params: dict[str, str | int] = {"limit": limit}
        if status is not None:
            params["status"] = status.value
        if cursor is not None:
            params["cursor"] = cursor
        return await self._call("GET", _EXECUTIONS, _EXECUTION_PAGE, params=params)

    async def iter_executions(
        self, status: ExecutionStatus | None = None, page_size: int = 50
    ) -> AsyncGenerator[Page[ExecutionOut], None]:
        """Every page of executions, newest first, until the last one."""
        cursor: str | None = None
        while True:
            page = await self.list_executions(status=status, limit=page_size, cursor=cursor)
            yield page
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def steps(self, execution_id: str) -> list[StepOut]:
        """The steps of an execution, in plan order, with status, output and error."""
        return await self._call("GET", _execution(execution_id, "steps"), _STEPS)

    async def events(self, execution_id: str, after: int = 0, limit: int = 1000) -> list[EventOut]:
        """Up to `limit` events of the log with a seq above `after`, oldest first."""
        params = {"after": after, "limit": limit}
        return await self._call("GET", _execution(execution_id, "events"), _EVENTS, params=params)

    async def cancel(self, execution_id: str) -> ExecutionOut:
        """Ask for an execution to be cancelled; its runner stops it within about a second."""
        return await self._call("POST", _execution(execution_id, "cancel"), ExecutionOut)

    async def resume(self, execution_id: str) -> ExecutionOut:
        """Go on with a cancelled, waiting or interrupted execution, in the background."""
        return await self._call("POST", _execution(execution_id, "resume"), ExecutionOut)

    async def feedback(self, execution_id: str, rating: int, comment: str = "") -> FeedbackOut:
        """Say how an execution went: `rating` 1 (useless) to 5 (exactly right)."""
        body = _model(FeedbackIn, rating=rating, comment=comment)
        path = _execution(execution_id, "feedback")
        return await self._call("POST", path, FeedbackOut, body=body)

    async def stream(
        self, execution_id: str, last_event_id: int | None = None
    ) -> AsyncGenerator[tuple[int, RunEvent], None]:
        """An execution's events as ``(seq, event)``, replayed then live, until it finishes.

        Starts after `last_event_id` (None: from the first event). When the connection drops
        before ``execution_finished``, it reconnects with ``Last-Event-ID`` set to the last
        seq received, waiting longer each time, so every event comes exactly once. It gives
        up after ``stream_retries`` reconnections in a row that bring no event.

        Leaving early closes the connection once the generator is closed: wrap it in
        ``contextlib.aclosing`` to close it at once.

        Raises:
            NotFoundError: no such execution in the key's workspace.
            ServerError: the stream could not be resumed.
            ServerUnreachableError: the server cannot be reached.
        """
        cursor = _Cursor(last=last_event_id)
        failures = 0
        while True:
            failure: BatonError | None = None
            cursor.received = False
            try:
                async with aclosing(self._connect(execution_id, cursor)) as events:
                    async for seq, event in events:
                        failures = 0
                        yield seq, event
                        if event.kind == "execution_finished":
                            return
            except httpx.TransportError as exc:
                failure = error_from_transport(exc, self.base_url)
            # A clean end with nothing new: a finished execution has nothing more to send.
            if failure is None and not cursor.received and await self._finished(execution_id):
                return
            failures += 1
            if failures > self._stream_retries:
                raise failure or ServerError(
                    f"the event stream of execution {execution_id} keeps ending before the "
                    f"execution finishes ({self._stream_retries} reconnection(s) tried)",
                    hint="try again; `baton executions events ID` reads the log",
                )
            await anyio.sleep(min(self._stream_backoff_s * 2 ** (failures - 1), _MAX_BACKOFF_S))

    async def _connect(
        self, execution_id: str, cursor: _Cursor
    ) -> AsyncGenerator[tuple[int, RunEvent], None]:
        """One connection of `stream`: the new events it brings, until it ends."""
        headers = {"Last-Event-ID": str(cursor.last)} if cursor.last is not None else {}
        path = _execution(execution_id, "stream")
        async with aconnect_sse(
            self._http, "GET", path, headers=headers, timeout=self._stream_timeout
        ) as source:
            await self._raise_for_status(source.response)
            try:
                async for sse in source.aiter_sse():
                    if not sse.id and not sse.data:
                        continue
                    seq, event = self._parse_sse(sse.id, sse.data, execution_id)
                    if cursor.last is not None and seq <= cursor.last:
                        continue  # delivered already (a server that replays too much)
                    cursor.last, cursor.received = seq, True
                    if event is not None:
                        yield seq, event
            except SSEError as exc:
                raise ServerError(
                    f"the server at {self.base_url} did not answer with an event stream: {exc}",
                    hint="is BATON_URL the address of a baton server?",
                ) from exc

    async def _finished(self, execution_id: str) -> bool:
        return (await self.get_execution(execution_id)).status.finished

    # ---- approvals ----------------------------------------------------------------------

    async def approvals(self, include_decided: bool = False) -> list[ApprovalOut]:
        """Approval requests waiting for a decision (every one with `include_decided`)."""
        params = {"include_decided": "true" if include_decided else "false"}
        return await self._call("GET", "/api/approvals", _APPROVALS, params=params)

    async def approval(self, approval_id: str) -> ApprovalOut:
        """One approval request."""
        return await self._call("GET", f"/api/approvals/{_seg(approval_id)}", ApprovalOut)

    async def approve(
        self,
        approval_id: str,
        edited_inputs: Mapping[str, Any] | None = None,
        resume: bool = True,
    ) -> ApprovalOut:
        """Let a gated step run (with `edited_inputs`, if given).

        With `resume`, the server continues the execution if it waits on this decision.

        Raises:
            ConflictError: the request was decided already, or has expired.
        """
        body = _model(
            ApproveIn,
            edited_inputs=dict(edited_inputs) if edited_inputs is not None else None,
            resume=resume,
        )
        path = f"/api/approvals/{_seg(approval_id)}/approve"
        return await self._call("POST", path, ApprovalOut, body=body)

    async def reject(self, approval_id: str, reason: str, resume: bool = True) -> ApprovalOut:
        """Refuse a gated step, saying why; with `resume`, its execution goes on without it."""
        body = _model(RejectIn, reason=reason, resume=resume)
        path = f"/api/approvals/{_seg(approval_id)}/reject"
        return await self._call("POST", path, ApprovalOut, body=body)

    # ---- agents -------------------------------------------------------------------------

    async def agents(self) -> list[AgentOut]:
        """Every agent of the server's registry, with live stats (no schemas)."""
        return await self._call("GET", "/api/agents", _AGENTS)

    async def agent(self, name: str) -> AgentOut:
        """One agent with its input and output schemas and examples."""
        return await self._call("GET", f"/api/agents/{_seg(name)}", AgentOut)

    # ---- tenancy ------------------------------------------------------------------------

    async def me(self) -> PrincipalOut:
        """Who the API key belongs to: user, workspace and role."""
        return await self._call("GET", "/api/me", PrincipalOut)

    async def workspaces(self) -> list[WorkspaceOut]:
        """The workspaces the key can see (its own)."""
        return await self._call("GET", "/api/workspaces", _WORKSPACES)

    async def create_workspace(self, name: str, admin_name: str = "admin") -> WorkspaceCreated:
        """A new workspace and its first admin's key, shown this once (admins only)."""
        body = _model(WorkspaceIn, name=name, admin_name=admin_name)
        return await self._call("POST", "/api/workspaces", WorkspaceCreated, body=body)

    async def members(self) -> list[MemberOut]:
        """Users and service accounts of the key's workspace."""
        return await self._call("GET", "/api/workspace/members", _MEMBERS)

    async def add_member(
        self, name: str, role: Role = "member", kind: Literal["user", "service"] = "user"
    ) -> MemberOut:
        """Add a member (admins only); give them a key with `create_key`."""
        body = _model(MemberIn, name=name, role=role, kind=kind)
        return await self._call("POST", "/api/workspace/members", MemberOut, body=body)

    async def set_role(self, user_id: str, role: Role) -> MemberOut:
        """Change a member's role (admins only; the last admin cannot be demoted)."""
        body = _model(MemberUpdate, role=role)
        path = f"/api/workspace/members/{_seg(user_id)}"
        return await self._call("PATCH", path, MemberOut, body=body)

    async def remove_member(self, user_id: str) -> None:
        """Remove a member; their keys stop working (admins only)."""
        await self._send("DELETE", f"/api/workspace/members/{_seg(user_id)}")

    async def keys(self) -> list[ApiKeyOut]:
        """API keys, without their secrets (admins: all of the workspace; others: their own)."""
        return await self._call("GET", "/api/workspace/keys", _KEYS)

    async def create_key(
        self, name: str, user_id: str | None = None, expires_at: datetime | None = None
    ) -> ApiKeyCreated:
        """A new API key (for `user_id`, admins only; default the caller's own).

        The token is in the answer, this once only.
        """
        body = _model(ApiKeyIn, name=name, user_id=user_id, expires_at=expires_at)
        return await self._call("POST", "/api/workspace/keys", ApiKeyCreated, body=body)

    async def revoke_key(self, key_id: str) -> None:
        """Revoke an API key; it stops working at once."""
        await self._send("DELETE", f"/api/workspace/keys/{_seg(key_id)}")

    # ---- health -------------------------------------------------------------------------

    async def health(self) -> Health:
        """Liveness: ``ok`` while the server process answers."""
        return await self._call("GET", "/api/health", Health)

    async def ready(self) -> Health:
        """Readiness: ``ok``, or ``unavailable`` (HTTP 503) while its database does not answer."""
        response = await self._send("GET", "/api/ready", accept=(503,))
        return self._parse(response, Health)

    # ---- plumbing -----------------------------------------------------------------------

    @overload
    async def _call(
        self,
        method: str,
        path: str,
        shape: type[M],
        *,
        params: Mapping[str, str | int] | None = None,
        body: BaseModel | None = None,
    ) -> M: ...

    @overload
    async def _call(
        self,
        method: str,
        path: str,
        shape: TypeAdapter[T],
        *,
        params: Mapping[str, str | int] | None = None,
        body: BaseModel | None = None,
    ) -> T: ...

    async def _call(
        self,
        method: str,
        path: str,
        shape: type[M] | TypeAdapter[T],
        *,
        params: Mapping[str, str | int] | None = None,
        body: BaseModel | None = None,
    ) -> M | T:
        response = await self._send(method, path, params=params, body=body)
        return self._parse(response, shape)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        body: BaseModel | None = None,
        accept: tuple[int, ...] = (),
    ) -> httpx.Response:
        content = None if body is None else body.model_dump_json(exclude_none=True).encode()
        headers = {"Content-Type": "application/json"} if content is not None else None
        try:
            response = await self._http.request(
                method, path, params=params, content=content, headers=headers
            )
        except httpx.TransportError as exc:
            raise error_from_transport(exc, self.base_url) from exc
        if response.status_code not in accept:
            await self._raise_for_status(response)
        return response

    async def _raise_for_status(self, response: httpx.Response) -> None:
        if response.status_code < 400:
            return
        await response.aread()
        raise error_from_response(response, self.base_url)

    @overload
    def _parse(self, response: httpx.Response, shape: type[M]) -> M: ...

    @overload
    def _parse(self, response: httpx.Response, shape: TypeAdapter[T]) -> T: ...

    def _parse(self, response: httpx.Response, shape: type[M] | TypeAdapter[T]) -> M | T:
        try:
            if isinstance(shape, TypeAdapter):
                return shape.validate_json(response.content)
            return shape.model_validate_json(response.content)
        except ValidationError as exc:
            raise ServerError(
                f"the server at {self.base_url} answered {response.request.method} "
                f"{response.request.url.path} with a shape this client cannot read "
                f"({exc.error_count()} problem(s))",
                hint="the server and this client may be different versions of baton",
                status=response.status_code,
            ) from exc

    def _parse_sse(self, sse_id: str, data: str, execution_id: str) -> tuple[int, RunEvent | None]:
        """The event's sequence number and the event; None for a kind this client lacks.

        A newer server may send kinds of event this client does not know: they are passed
        over (their place in the sequence still counts for resuming), as a client must
        tolerate additions to the stream. A known kind that does not read is an error.
        """
        try:
            return int(sse_id), EVENT_ADAPTER.validate_json(data)
        except ValidationError as exc:
            if all(e["type"] == "union_tag_invalid" for e in exc.errors()) and sse_id.isdigit():
                return int(sse_id), None
            raise self._unreadable(sse_id, execution_id) from exc
        except ValueError as exc:
            raise self._unreadable(sse_id, execution_id) from exc

    @staticmethod
    def _unreadable(sse_id: str, execution_id: str) -> ServerError:
        return ServerError(
            f"the event stream of execution {execution_id} sent an event this client "
            f"cannot read (id {sse_id!r})",
            hint="the server and this client may be different versions of baton",
        )


def _model(model: type[M], **fields: Any) -> M:
    """A request body, checked here so a bad argument names itself before anything is sent."""
    try:
        return model(**fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or model.__name__
        raise UsageError(f"{where}: {first['msg']}") from None


def _seg(value: str) -> str:
    """One path segment (so an id cannot reach another route)."""
    return quote(value, safe="")


def _execution(execution_id: str, *rest: str) -> str:
    return "/".join([_EXECUTIONS, _seg(execution_id), *rest])
