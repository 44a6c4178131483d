"""``GET /api/logs/stream?execution_id=``: an execution the caller cannot see is a 404, not
a stream that stays empty forever."""

from __future__ import annotations

import pytest

from support.api import Api

pytestmark = pytest.mark.anyio

PLAN = {
    "steps": [{"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}]
}


async def test_tailing_an_unknown_or_foreign_execution_is_not_found(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        started = await http.post("/api/orchestrate", json={"plan": PLAN})
        assert started.status_code == 202, started.text
        ours = started.json()["execution"]["id"]
        other = (await http.post("/api/workspaces", json={"name": "other"})).json()

        unknown = await http.get("/api/logs/stream", params={"execution_id": "ex_nope"})
        async with http.stream(
            "GET", "/api/logs/stream", params={"execution_id": ours, "backlog": 0}
        ) as mine:
            mine_status = mine.status_code

    async with api.client(other["admin_key"]) as foreign_http:
        foreign = await foreign_http.get("/api/logs/stream", params={"execution_id": ours})

    assert unknown.status_code == 404
    assert "ex_nope" in unknown.json()["detail"]
    assert foreign.status_code == 404
    assert mine_status == 200
