"""Cancelling or resuming a finished execution conflicts with its state: 409, not 400."""

from __future__ import annotations

import anyio
import pytest

from support.api import Api

pytestmark = pytest.mark.anyio

PLAN = {
    "steps": [{"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}]
}


async def test_cancel_and_resume_of_a_finished_execution_are_conflicts(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        started = await http.post("/api/orchestrate", json={"plan": PLAN})
        ex_id = started.json()["execution"]["id"]
        with anyio.fail_after(20):
            while True:
                status = (await http.get(f"/api/orchestrate/{ex_id}")).json()["status"]
                if status == "succeeded":
                    break
                await anyio.sleep(0.05)
        cancel = await http.post(f"/api/orchestrate/{ex_id}/cancel")
        resume = await http.post(f"/api/orchestrate/{ex_id}/resume")

    for answer in (cancel, resume):
        assert answer.status_code == 409, answer.text
        problem = answer.json()
        assert problem["type"].endswith("/conflict")
        assert f"execution {ex_id} has already succeeded" in problem["detail"]
    assert resume.json()["hint"] == "start a new execution to run the plan again"
