"""``GET /metrics`` on a live server: admins only, Prometheus text, live figures.

These need the engine wired as `baton.app` does it: ``Baton.metrics`` set (when
``BATON_METRICS_ENABLED``) and its interceptor in the executor's options.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import anyio
import pytest
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from baton.settings import Settings
from support.api import Api, running_api

pytestmark = pytest.mark.anyio

PLAN = {
    "steps": [{"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}]
}
GATED_PLAN = {
    "steps": [
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "hi"},
            "policy": {"critical": True},
        }
    ]
}


def settings_for(tmp_path: Path, **extra: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None, **extra)  # type: ignore[call-arg]


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def key_for(api: Api, role: str) -> str:
    async with api.client(api.admin_key) as http:
        user = await http.post("/api/workspace/members", json={"name": role, "role": role})
        assert user.status_code == 201, user.text
        key = await http.post(
            "/api/workspace/keys", json={"name": role, "user_id": user.json()["id"]}
        )
        assert key.status_code == 201, key.text
        token: str = key.json()["token"]
        return token


async def run_until(api: Api, plan: Mapping[str, object], status: str) -> str:
    async with api.client(api.admin_key) as http:
        created = await http.post("/api/orchestrate", json={"plan": plan})
        assert created.status_code == 202, created.text
        ex_id: str = created.json()["execution"]["id"]
        with anyio.fail_after(20):
            while True:
                if (await http.get(f"/api/orchestrate/{ex_id}")).json()["status"] == status:
                    break
                await anyio.sleep(0.02)
        return ex_id


async def test_admins_scrape_live_figures(tmp_path: Path) -> None:
    async with running_api(settings_for(tmp_path)) as api:
        done = await run_until(api, PLAN, "succeeded")
        waiting = await run_until(api, GATED_PLAN, "waiting")
        async with api.client(api.admin_key) as http:
            response = await http.get("/metrics")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == CONTENT_TYPE_LATEST
    samples = parse(response.text)
    assert samples[("baton_executions_finished_total", frozenset({("status", "succeeded")}))] == 1
    assert samples[("baton_executions_started_total", frozenset())] == 2
    key = (
        "baton_steps_finished_total",
        frozenset({("agent", "text.transform"), ("status", "succeeded")}),
    )
    assert samples[key] == 1
    assert samples[("baton_approvals_requested_total", frozenset())] == 1
    assert samples[("baton_approvals_pending", frozenset())] == 1
    assert samples[("baton_sse_clients", frozenset())] == 0
    # Process-wide numbers, no workspace data: no ids, no inputs.
    for private in (done, waiting, "dana@example.com", api.admin_key):
        assert private not in response.text


async def test_only_admins_may_scrape(tmp_path: Path) -> None:
    async with running_api(settings_for(tmp_path)) as api:
        member, viewer = await key_for(api, "member"), await key_for(api, "viewer")
        async with api.client(member) as http:
            as_member = await http.get("/metrics")
        async with api.client(viewer) as http:
            as_viewer = await http.get("/metrics")
        async with api.client() as http:
            anonymous = await http.get("/metrics")
        async with api.client("baton_nope_nope") as http:
            bad_key = await http.get("/metrics")

    assert as_member.status_code == 403
    assert as_member.json()["detail"] == "the member role may not metrics:read"
    assert as_viewer.status_code == 403
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert bad_key.status_code == 401


async def test_metrics_turned_off_are_not_found(tmp_path: Path) -> None:
    async with running_api(settings_for(tmp_path, metrics_enabled=False)) as api:
        assert getattr(api.baton, "metrics", None) is None
        async with api.client(api.admin_key) as http:
            response = await http.get("/metrics")

    assert response.status_code == 404
    assert response.json()["detail"] == "metrics are turned off on this server"
