"""``GET /api/stats``: the key metrics of the caller's workspace, in memory and in SQL alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from baton.settings import Settings
from support.api import Api, running_api

pytestmark = pytest.mark.anyio

PLAN = {
    "steps": [
        {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}},
        {"id": "b", "agent": "text.transform", "inputs": {"text": "y", "operation": "upper"}},
    ]
}
GATED = {
    "steps": [
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "hi"},
            "policy": {"critical": True},
        }
    ]
}


async def run_to(http: httpx.AsyncClient, plan: dict[str, Any], status: str) -> None:
    started = await http.post("/api/orchestrate", json={"plan": plan})
    ex_id = started.json()["execution"]["id"]
    with anyio.fail_after(20):
        while True:
            if (await http.get(f"/api/orchestrate/{ex_id}")).json()["status"] == status:
                return
            await anyio.sleep(0.02)


async def figures(api: Api) -> dict[str, Any]:
    async with api.client(api.admin_key) as http:
        await run_to(http, PLAN, "succeeded")
        await run_to(http, GATED, "waiting")
        response = await http.get("/api/stats", params={"window_s": 3600})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        # Another workspace sees none of it.
        other = await http.post("/api/workspaces", json={"name": "other"})
    async with api.client(other.json()["admin_key"]) as theirs:
        assert (await theirs.get("/api/stats")).json()["executions"]["total"] == 0
    return body


def check(body: dict[str, Any]) -> None:
    assert body["workspace"] == "default"
    assert body["executions"]["total"] == 2
    assert body["executions"]["by_status"]["succeeded"] == 1
    assert body["executions"]["by_status"]["waiting"] == 1
    assert body["executions"]["by_status"]["failed"] == 0
    assert body["finished"] == 1
    assert body["success_rate"] == 1.0
    assert body["average_duration_s"] is not None
    assert body["average_duration_s"] >= 0
    assert body["steps"] == {"succeeded": 2, "failed": 0}
    assert body["error_rate"] == 0.0
    assert body["errors_per_minute"] == 0.0
    assert set(body) >= {"tokens", "cache_hit_rate", "since", "until"}


async def test_stats_of_an_in_memory_engine(api: Api) -> None:
    check(await figures(api))


async def test_stats_of_a_sql_engine(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    async with running_api(settings, in_memory=False) as api:
        check(await figures(api))


async def test_a_window_must_be_positive(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        for bad in ("0", "-5", "nope"):
            response = await http.get("/api/stats", params={"window_s": bad})
            assert response.status_code == 422


async def rerun(api: Api) -> dict[str, Any]:
    """The same plan run twice: its two text.transform steps miss, then hit the cache."""
    async with api.client(api.admin_key) as http:
        await run_to(http, PLAN, "succeeded")
        await run_to(http, PLAN, "succeeded")
        response = await http.get("/api/stats", params={"window_s": 3600})
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
    return body


def check_rerun(body: dict[str, Any]) -> None:
    assert body["steps"] == {"succeeded": 4, "failed": 0}
    assert body["cache_hit_rate"] == 0.5
    # Planned by hand and no agent called a model: zero tokens, not "unknown".
    assert body["tokens"] == {
        "input": 0,
        "output": 0,
        "total": 0,
        "cost_usd": 0.0,
        "calls": 0,
        "unpriced_calls": 0,
    }


async def test_a_rerun_hits_the_cache_in_memory(api: Api) -> None:
    check_rerun(await rerun(api))


async def test_a_rerun_hits_the_cache_in_sql(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    async with running_api(settings, in_memory=False) as api:
        check_rerun(await rerun(api))
