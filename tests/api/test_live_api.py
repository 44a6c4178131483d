"""Approvals, feedback, agents and the SSE stream, end to end against a live server."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from httpx_sse import aconnect_sse

from baton.events import EVENT_ADAPTER
from baton.settings import Settings
from support.api import Api, running_api
from support.poll import wait_until

pytestmark = pytest.mark.anyio

GATED_PLAN = {
    "name": "gated",
    "steps": [
        {
            "id": "draft",
            "agent": "text.transform",
            "inputs": {"text": "hi dana", "operation": "upper"},
        },
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "${draft.text}"},
            "depends_on": ["draft"],
            "policy": {"critical": True},
        },
    ],
}


async def wait_status(http: httpx.AsyncClient, execution_id: str, *wanted: str) -> dict[str, Any]:
    with anyio.fail_after(20):
        while True:
            body = (await http.get(f"/api/orchestrate/{execution_id}")).json()
            if body["status"] in wanted:
                return body
            await anyio.sleep(0.05)


async def read_stream(
    http: httpx.AsyncClient, execution_id: str, last_event_id: str | None = None
) -> list[tuple[int, str]]:
    headers = {"Last-Event-ID": last_event_id} if last_event_id is not None else {}
    got: list[tuple[int, str]] = []
    async with aconnect_sse(
        http, "GET", f"/api/orchestrate/{execution_id}/stream", headers=headers
    ) as source:
        async for sse in source.aiter_sse():
            event = EVENT_ADAPTER.validate_json(sse.data)
            assert event.kind == sse.event
            got.append((int(sse.id), sse.event))
    return got


async def test_a_critical_step_waits_for_approval_then_runs_with_edited_inputs(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        started = (await http.post("/api/orchestrate", json={"plan": GATED_PLAN})).json()
        ex_id = started["execution"]["id"]
        await wait_status(http, ex_id, "waiting")
        pending = (await http.get("/api/approvals")).json()
        assert [(a["execution_id"], a["step_id"]) for a in pending] == [(ex_id, "send")]
        approval = pending[0]
        assert approval["impact"]["targets"] == ["dana@example.com"]
        edited = {"to": "dana@example.com", "message": "edited by a person"}
        decided = await http.post(
            f"/api/approvals/{approval['id']}/approve", json={"edited_inputs": edited}
        )
        assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "approved"
        done = await wait_status(http, ex_id, "succeeded", "failed")
        assert done["status"] == "succeeded"
        steps = {
            s["step_id"]: s for s in (await http.get(f"/api/orchestrate/{ex_id}/steps")).json()
        }
        assert steps["send"]["status"] == "succeeded"
        again = await http.post(f"/api/approvals/{approval['id']}/approve", json={})
        assert again.status_code == 409
        assert again.json()["type"] == "https://baton.dev/problems/approval-conflict"


async def test_rejecting_fails_the_step_and_needs_a_reason(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        ex_id = (await http.post("/api/orchestrate", json={"plan": GATED_PLAN})).json()[
            "execution"
        ]["id"]
        await wait_status(http, ex_id, "waiting")
        approval = (await http.get("/api/approvals")).json()[0]
        no_reason = await http.post(
            f"/api/approvals/{approval['id']}/reject", json={"reason": "  "}
        )
        assert no_reason.status_code == 422
        rejected = await http.post(
            f"/api/approvals/{approval['id']}/reject", json={"reason": "not now"}
        )
        assert rejected.json()["decision_reason"] == "not now"
        done = await wait_status(http, ex_id, "succeeded", "failed")
        steps = {
            s["step_id"]: s for s in (await http.get(f"/api/orchestrate/{ex_id}/steps")).json()
        }
        assert steps["send"]["status"] == "failed"
        assert "not now" in steps["send"]["error"]
        assert done["status"] == "failed"


async def test_stream_replays_a_finished_execution_and_resumes_after_last_event_id(
    api: Api,
) -> None:
    async with api.client(api.admin_key) as http:
        ex_id = (
            await http.post(
                "/api/orchestrate",
                json={
                    "plan": {
                        "steps": [
                            {
                                "id": "a",
                                "agent": "text.transform",
                                "inputs": {"text": "x", "operation": "upper"},
                            }
                        ]
                    }
                },
            )
        ).json()["execution"]["id"]
        await wait_status(http, ex_id, "succeeded")
        everything = await read_stream(http, ex_id)
        assert [seq for seq, _ in everything] == list(range(1, len(everything) + 1))
        assert everything[-1][1] == "execution_finished"
        rest = await read_stream(http, ex_id, last_event_id="2")
        assert rest == everything[2:]
        bad = await http.get(f"/api/orchestrate/{ex_id}/stream", headers={"Last-Event-ID": "x"})
        assert bad.status_code == 400
        assert "Last-Event-ID" in bad.json()["detail"]


async def test_stream_follows_a_running_execution_live(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        ex_id = (await http.post("/api/orchestrate", json={"plan": GATED_PLAN})).json()[
            "execution"
        ]["id"]
        await wait_status(http, ex_id, "waiting")
        seen: list[tuple[int, str]] = []

        async def watch() -> None:
            seen.extend(await read_stream(http, ex_id))

        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            await anyio.sleep(0.3)  # the watcher has replayed up to "waiting" and waits live
            assert seen == []  # still open: nothing returned yet
            approval = (await http.get("/api/approvals")).json()[0]
            await http.post(f"/api/approvals/{approval['id']}/approve", json={})
        kinds = [k for _, k in seen]
        assert "execution_waiting" in kinds
        assert kinds[-1] == "execution_finished"
        assert [s for s, _ in seen] == list(range(1, len(seen) + 1))


async def test_feedback_is_recorded_and_validated(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        ex_id = (await http.post("/api/orchestrate", json={"plan": GATED_PLAN})).json()[
            "execution"
        ]["id"]
        ok = await http.post(
            f"/api/orchestrate/{ex_id}/feedback", json={"rating": 4, "comment": "good"}
        )
        assert ok.status_code == 201
        assert ok.json()["rating"] == 4
        bad = await http.post(f"/api/orchestrate/{ex_id}/feedback", json={"rating": 9})
        assert bad.status_code == 422
    stored = await api.baton.feedback.list("default", execution_id=ex_id)
    assert [(f.rating, f.comment) for f in stored] == [(4, "good")]


async def test_agents_list_and_detail(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        agents = (await http.get("/api/agents")).json()
        names = [a["name"] for a in agents]
        assert {"notify.send", "text.transform"} <= set(names)
        detail = (await http.get("/api/agents/notify.send")).json()
        assert detail["risk"] == "write"
        assert "to" in detail["input_schema"]["properties"]
        missing = await http.get("/api/agents/notify.sned")
        assert missing.status_code == 404
        assert "notify.send" in missing.json()["hint"]


async def test_list_pages_with_a_cursor_and_filters_by_status(api: Api) -> None:
    plan = {
        "steps": [
            {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}
        ]
    }
    async with api.client(api.admin_key) as http:
        ids = [
            (await http.post("/api/orchestrate", json={"plan": plan})).json()["execution"]["id"]
            for _ in range(5)
        ]
        for ex_id in ids:
            await wait_status(http, ex_id, "succeeded")
        first = (await http.get("/api/orchestrate", params={"limit": 2})).json()
        assert len(first["items"]) == 2
        assert first["next_cursor"]
        seen = [e["id"] for e in first["items"]]
        cursor = first["next_cursor"]
        while cursor:
            page = (
                await http.get("/api/orchestrate", params={"limit": 2, "cursor": cursor})
            ).json()
            seen += [e["id"] for e in page["items"]]
            cursor = page["next_cursor"]
        assert seen == list(reversed(ids))
        failed = (await http.get("/api/orchestrate", params={"status": "failed"})).json()
        assert failed["items"] == []
        bogus = await http.get("/api/orchestrate", params={"status": "bogus"})
        assert bogus.status_code == 422


async def test_workspace_stream_carries_execution_events_of_its_own_workspace(api: Api) -> None:
    plan = {
        "steps": [
            {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}
        ]
    }
    async with api.client(api.admin_key) as admin:
        other = (await admin.post("/api/workspaces", json={"name": "other"})).json()
    seen: list[tuple[str, str]] = []
    async with (
        api.client(api.admin_key) as http,
        api.client(other["admin_key"]) as stranger,
        aconnect_sse(http, "GET", "/api/stream") as source,
    ):
        # The stream is live only: start once the server has attached it.
        await wait_until(lambda: api.baton.bus.subscribers == 1)
        await stranger.post("/api/orchestrate", json={"plan": plan})  # another workspace
        mine = (await http.post("/api/orchestrate", json={"plan": plan})).json()
        async for sse in source.aiter_sse():
            if sse.event == "heartbeat" or not sse.id:
                continue
            seen.append((sse.id, sse.event))
            if sse.event == "execution_finished":
                break
    ex_id = mine["execution"]["id"]
    assert [kind for _, kind in seen] == ["execution_started", "execution_finished"]
    assert all(event_id.startswith(f"{ex_id}:") for event_id, _ in seen)


async def test_an_idle_stream_carries_heartbeats(tmp_path: Path) -> None:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data", workspace=tmp_path, stream_heartbeat_s=0.2, _env_file=None
    )
    async with running_api(settings) as api, api.client(api.admin_key) as http:
        ex_id = (await http.post("/api/orchestrate", json={"plan": GATED_PLAN})).json()[
            "execution"
        ]["id"]
        await wait_status(http, ex_id, "waiting")
        lines: list[str] = []
        with anyio.move_on_after(1.5):
            async with http.stream("GET", f"/api/orchestrate/{ex_id}/stream") as response:
                async for line in response.aiter_lines():
                    lines.append(line)
    assert ": heartbeat" in lines  # an SSE comment: clients ignore it, proxies see traffic
    assert lines.count(": heartbeat") >= 3
