"""The execution routes end to end, against a live server."""

from __future__ import annotations

import anyio
import pytest

from support.api import Api

pytestmark = pytest.mark.anyio

ECHO_PLAN = {
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


async def wait_finished(api: Api, key: str, execution_id: str) -> dict[str, object]:
    async with api.client(key) as http:
        with anyio.fail_after(20):
            while True:
                body = (await http.get(f"/api/orchestrate/{execution_id}")).json()
                if body["status"] in ("succeeded", "failed", "cancelled"):
                    return body
                await anyio.sleep(0.05)


async def test_start_a_plan_then_read_it_back(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        started = await http.post("/api/orchestrate", json={"plan": ECHO_PLAN})
        assert started.status_code == 202, started.text
        execution = started.json()["execution"]
        assert started.headers["location"] == f"/api/orchestrate/{execution['id']}"
        done = await wait_finished(api, api.admin_key, execution["id"])
        assert done["status"] == "succeeded"
        steps = (await http.get(f"/api/orchestrate/{execution['id']}/steps")).json()
        assert [s["output"] for s in steps] == [{"text": "HELLO"}, {"text": "hello"}]
        events = (await http.get(f"/api/orchestrate/{execution['id']}/events")).json()
        assert events[0]["kind"] == "execution_started"
        assert events[-1]["kind"] == "execution_finished"
        assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
