"""`BatonClient` against a live server: every method, and problems become `BatonError`s."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import anyio
import httpx
import pytest

from baton.client import (
    AuthenticationError,
    BatonClient,
    ConflictError,
    ServerError,
    ServerUnreachableError,
)
from baton.errors import (
    NotFoundError,
    PermissionDeniedError,
    PlanningError,
    PlanValidationError,
    UsageError,
)
from baton.events import ExecutionStatus, utcnow
from baton.wire import ExecutionDetail
from support.api import Api

pytestmark = pytest.mark.anyio

TWO_STEPS: dict[str, Any] = {
    "name": "two steps",
    "steps": [
        {"id": "a", "agent": "text.transform", "inputs": {"text": "hello", "operation": "upper"}},
        {
            "id": "b",
            "agent": "text.transform",
            "inputs": {"text": "${a.text}", "operation": "lower"},
            "depends_on": ["a"],
        },
    ],
}

GATED: dict[str, Any] = {
    "name": "gated",
    "steps": [
        {"id": "draft", "agent": "text.transform", "inputs": {"text": "hi", "operation": "upper"}},
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "${draft.text}"},
            "depends_on": ["draft"],
            "policy": {"critical": True},
        },
    ],
}


async def wait_status(client: BatonClient, execution_id: str, *wanted: str) -> ExecutionDetail:
    with anyio.fail_after(20):
        while True:
            detail = await client.get_execution(execution_id)
            if detail.status in wanted:
                return detail
            await anyio.sleep(0.05)


async def start(client: BatonClient, plan: dict[str, Any]) -> str:
    started = await client.orchestrate(plan=plan)
    assert started.execution is not None
    assert started.preview is None
    return started.execution.id


@pytest.fixture
async def viewer(api: Api, admin: BatonClient) -> AsyncIterator[BatonClient]:
    """A client whose key belongs to a viewer (read-only) member."""
    member = await admin.add_member("vera", role="viewer")
    created = await admin.create_key("vera's key", user_id=member.id)
    async with BatonClient(api.url, created.token) as client:
        yield client


async def test_a_plan_runs_and_reads_back(admin: BatonClient) -> None:
    ex_id = await start(admin, TWO_STEPS)

    done = await wait_status(admin, ex_id, "succeeded", "failed")
    assert done.status is ExecutionStatus.SUCCEEDED
    assert done.plan["name"] == "two steps"
    assert done.name == "two steps"
    steps = await admin.steps(ex_id)
    assert [(s.step_id, s.output) for s in steps] == [
        ("a", {"text": "HELLO"}),
        ("b", {"text": "hello"}),
    ]
    events = await admin.events(ex_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].kind == "execution_started"
    assert events[-1].kind == "execution_finished"
    later = await admin.events(ex_id, after=2, limit=2)
    assert [e.seq for e in later] == [3, 4]


async def test_a_request_is_planned_and_a_dry_run_runs_nothing(
    api: Api, admin: BatonClient
) -> None:
    (api.baton.settings.workspace / "notes.txt").write_text("Baton plans. Agents run steps.\n")

    preview = await admin.orchestrate("read notes.txt and summarize it", dry_run=True)

    assert preview.execution is None
    assert preview.preview is not None
    assert next(s["agent"] for s in preview.preview.plan["steps"]) == "files.read"
    assert preview.preview.critical_path
    assert (await admin.list_executions()).items == []
    started = await admin.orchestrate("read notes.txt and summarize it")
    assert started.execution is not None
    assert started.execution.request == "read notes.txt and summarize it"


async def test_list_and_iterate_pages(admin: BatonClient) -> None:
    ids = [await start(admin, TWO_STEPS) for _ in range(5)]
    for ex_id in ids:
        await wait_status(admin, ex_id, "succeeded")

    first = await admin.list_executions(limit=2)
    assert [e.id for e in first.items] == ids[::-1][:2]
    assert first.next_cursor
    second = await admin.list_executions(limit=2, cursor=first.next_cursor)
    assert [e.id for e in second.items] == ids[::-1][2:4]
    pages = [page async for page in admin.iter_executions(page_size=2)]
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert [e.id for p in pages for e in p.items] == ids[::-1]
    assert (await admin.list_executions(status=ExecutionStatus.FAILED)).items == []
    assert len((await admin.list_executions(status=ExecutionStatus.SUCCEEDED)).items) == 5


async def test_cancel_resume_and_feedback(admin: BatonClient) -> None:
    ex_id = await start(admin, GATED)
    await wait_status(admin, ex_id, "waiting")
    cancelled = await admin.cancel(ex_id)  # nobody runs a waiting execution: cancelled now
    assert (cancelled.id, cancelled.status) == (ex_id, ExecutionStatus.CANCELLED)
    assert cancelled.error == "cancelled while it waited"
    before = len(await admin.events(ex_id))
    resumed = await admin.resume(ex_id)
    assert resumed.id == ex_id
    with anyio.fail_after(10):
        while True:
            events = await admin.events(ex_id, after=before)
            if len(events) >= 3:
                break
            await anyio.sleep(0.05)
    assert events[0].kind == "execution_started"
    assert events[0].model_extra == {
        "step_count": 2,
        "resumed": True,
    }
    feedback = await admin.feedback(ex_id, 4, "close enough")
    assert (feedback.execution_id, feedback.rating, feedback.comment) == (ex_id, 4, "close enough")
    with pytest.raises(UsageError, match="rating"):
        await admin.feedback(ex_id, 9)

    done = await start(admin, TWO_STEPS)
    await wait_status(admin, done, "succeeded")
    with pytest.raises(UsageError, match="already succeeded"):
        await admin.cancel(done)


async def test_approve_with_edited_inputs_then_the_execution_goes_on(admin: BatonClient) -> None:
    ex_id = await start(admin, GATED)
    await wait_status(admin, ex_id, "waiting")

    [pending] = await admin.approvals()
    assert (pending.execution_id, pending.step_id, pending.status) == (ex_id, "send", "pending")
    assert (await admin.approval(pending.id)).inputs == pending.inputs
    edited = {"to": "dana@example.com", "message": "edited"}
    decided = await admin.approve(pending.id, edited_inputs=edited)
    assert decided.status == "approved"
    assert decided.edited_inputs == edited
    assert (await wait_status(admin, ex_id, "succeeded", "failed")).status == "succeeded"
    assert await admin.approvals() == []
    assert [a.id for a in await admin.approvals(include_decided=True)] == [pending.id]
    with pytest.raises(ConflictError) as again:
        await admin.approve(pending.id)
    assert isinstance(again.value, UsageError)


async def test_reject_without_resuming_leaves_it_waiting(admin: BatonClient) -> None:
    ex_id = await start(admin, GATED)
    await wait_status(admin, ex_id, "waiting")
    [pending] = await admin.approvals()

    with pytest.raises(UsageError, match="reason"):
        await admin.reject(pending.id, "   ")
    rejected = await admin.reject(pending.id, "not now", resume=False)

    assert rejected.status == "rejected"
    assert rejected.decision_reason == "not now"
    await anyio.sleep(0.2)
    assert (await admin.get_execution(ex_id)).status is ExecutionStatus.WAITING
    await admin.resume(ex_id)
    assert (await wait_status(admin, ex_id, "succeeded", "failed")).status == "failed"
    send = {s.step_id: s for s in await admin.steps(ex_id)}["send"]
    assert send.error is not None
    assert "not now" in send.error


async def test_agents_and_health(admin: BatonClient) -> None:
    agents = {a.name: a for a in await admin.agents()}
    assert "text.transform" in agents
    assert agents["text.transform"].input_schema is None
    detail = await admin.agent("notify.send")
    assert detail.input_schema is not None
    assert "to" in detail.input_schema["properties"]
    assert (await admin.health()).status == "ok"
    assert (await admin.ready()).status == "ok"


async def test_tenancy_members_keys_and_workspaces(api: Api, admin: BatonClient) -> None:
    me = await admin.me()
    assert me.role == "admin"
    assert me.workspace_id == "default"
    assert [w.id for w in await admin.workspaces()] == ["default"]

    member = await admin.add_member("sam", role="member")
    assert member.id in {m.id for m in await admin.members()}
    promoted = await admin.set_role(member.id, "admin")
    assert promoted.role == "admin"
    key = await admin.create_key(
        "sam's key", user_id=member.id, expires_at=utcnow() + timedelta(days=1)
    )
    assert key.token.startswith("baton_")
    assert key.key.expires_at is not None
    assert key.key.id in {k.id for k in await admin.keys()}
    async with BatonClient(api.url, key.token) as sam:
        assert (await sam.me()).user_id == member.id
        await admin.revoke_key(key.key.id)
        with pytest.raises(AuthenticationError):
            await sam.me()

    other = await admin.add_member("olga")
    await admin.remove_member(other.id)
    assert {m.id: m.disabled for m in await admin.members()}[other.id] is True
    created = await admin.create_workspace("second", admin_name="boss")
    async with BatonClient(api.url, created.admin_key) as boss:
        assert (await boss.me()).workspace_id == created.workspace.id
        # Another workspace's execution is not found, not forbidden: nothing leaks.
        ex_id = await start(admin, TWO_STEPS)
        with pytest.raises(NotFoundError):
            await boss.get_execution(ex_id)


async def test_problems_become_baton_errors_with_detail_and_hint(
    api: Api, admin: BatonClient, viewer: BatonClient
) -> None:
    with pytest.raises(NotFoundError, match="ex_nope"):
        await admin.get_execution("ex_nope")

    with pytest.raises(NotFoundError) as agent:
        await admin.agent("notify.sned")
    assert agent.value.hint is not None
    assert "notify.send" in agent.value.hint

    async with BatonClient(api.url, "baton_wrong_key") as stranger:
        with pytest.raises(AuthenticationError) as unauthenticated:
            await stranger.me()
    assert "API key" in unauthenticated.value.message
    assert unauthenticated.value.hint is not None
    async with BatonClient(api.url, None) as anonymous:
        with pytest.raises(AuthenticationError):
            await anonymous.agents()
        assert (await anonymous.health()).status == "ok"  # needs no key

    assert (await viewer.me()).role == "viewer"
    assert isinstance(await viewer.list_executions(), type(await admin.list_executions()))
    with pytest.raises(PermissionDeniedError, match="viewer") as forbidden:
        await viewer.orchestrate(plan=TWO_STEPS)
    assert forbidden.value.hint is not None
    assert "admin" in forbidden.value.hint


async def test_plan_and_request_problems(admin: BatonClient) -> None:
    bad_plan = {"steps": [{"id": "a", "agent": "text.transfrom", "inputs": {}}]}
    with pytest.raises(PlanValidationError) as invalid:
        await admin.orchestrate(plan=bad_plan)
    assert [p.code for p in invalid.value.problems] == ["unknown_agent"]
    assert invalid.value.problems[0].step_id == "a"
    assert invalid.value.problems[0].hint is not None
    assert "text.transform" in invalid.value.problems[0].hint

    with pytest.raises(PlanningError):
        await admin.orchestrate("florble the quux with great vigour")
    with pytest.raises(UsageError, match="give `request`"):
        await admin.orchestrate()
    both = await admin.orchestrate("do it", plan=TWO_STEPS)  # the plan runs, request recorded
    assert both.execution is not None
    assert both.execution.request == "do it"
    with pytest.raises(UsageError, match="request"):
        await admin.orchestrate("")  # refused here, before anything is sent


async def test_server_errors_and_non_baton_answers(api: Api) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/api/health":
            return httpx.Response(
                502, text="<html>bad gateway</html>", headers={"content-type": "text/html"}
            )
        if request.url.path == "/api/me":
            return httpx.Response(
                500,
                json={
                    "type": "https://baton.dev/problems/internal",
                    "title": "Internal server error",
                    "status": 500,
                    "detail": "an unexpected error occurred; it was logged on the server",
                },
                headers={"content-type": "application/problem+json"},
            )
        if request.url.path == "/api/ready":
            return httpx.Response(503, json={"status": "unavailable", "detail": "no database"})
        return httpx.Response(200, json={"unexpected": True})

    async with BatonClient(
        "http://baton.test", "k", transport=httpx.MockTransport(answer)
    ) as client:
        with pytest.raises(ServerError, match="502") as gateway:
            await client.health()
        assert gateway.value.status == 502
        assert gateway.value.hint is not None
        with pytest.raises(ServerError, match="logged on the server") as internal:
            await client.me()
        assert internal.value.status == 500
        with pytest.raises(ServerError, match="cannot read"):
            await client.agents()
        not_ready = await client.ready()  # a readiness answer, not an error
        assert not_ready.status == "unavailable"
        assert not_ready.detail == "no database"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_unreachable_server_is_a_clear_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    async with BatonClient(url, "k", stream_retries=1, stream_backoff_s=0.01) as client:
        with pytest.raises(ServerUnreachableError) as refused:
            await client.health()
        with pytest.raises(ServerUnreachableError):
            _ = [e async for e in client.stream("ex_1")]
    assert (
        str(refused.value.message) == f"cannot reach the baton server at {url}: connection refused"
    )
    assert refused.value.hint is not None
    assert "baton serve" in refused.value.hint
    assert isinstance(refused.value, UsageError)


def test_a_url_that_is_not_http_is_refused() -> None:
    for url in ("localhost:8000", "http://[::1", "", "ftp://host"):
        with pytest.raises(UsageError, match="not the address of a baton server"):
            BatonClient(url, "k")
