"""Problems, authentication, strict bodies and limits: how the API answers bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from support.api import Api

pytestmark = pytest.mark.anyio

PROBLEM = "application/problem+json"


async def test_missing_unknown_malformed_and_revoked_keys_get_the_same_401(api: Api) -> None:
    async with api.client(api.admin_key) as admin:
        created = (await admin.post("/api/workspace/keys", json={"name": "temp"})).json()
        revoked_token = created["token"]
        assert (
            await admin.delete(f"/api/workspace/keys/{created['key']['id']}")
        ).status_code == 204
    prefix, key_id, secret = api.admin_key.split("_", 2)
    candidates: list[str | None] = [
        None,
        "nonsense",
        f"{prefix}_{key_id}_{secret[:-2]}xx",  # right id, wrong secret
        f"{prefix}_{'0' * 12}_{secret}",  # unknown id
        revoked_token,
    ]
    bodies = []
    for token in candidates:
        async with api.client(token) as http:
            response = await http.get("/api/orchestrate")
        assert response.status_code == 401
        assert response.headers["content-type"] == PROBLEM
        assert response.headers["www-authenticate"] == "Bearer"
        bodies.append(response.json())
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["type"] == "https://baton.dev/problems/unauthenticated"


async def test_x_api_key_header_works_too(api: Api) -> None:
    async with api.client() as http:
        response = await http.get("/api/me", headers={"X-API-Key": api.admin_key})
    assert response.status_code == 200
    assert response.json()["role"] == "admin"
    assert response.json()["workspace_id"] == "default"


async def test_unknown_fields_are_refused_naming_the_field(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        response = await http.post("/api/orchestrate", json={"request": "x", "dryrun": True})
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "https://baton.dev/problems/invalid-request"
    assert any(e["where"] == "body.dryrun" for e in body["errors"])


async def test_neither_request_nor_plan_is_refused_and_both_record_the_request(
    api: Api,
) -> None:
    plan = {
        "steps": [
            {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}
        ]
    }
    async with api.client(api.admin_key) as http:
        neither = await http.post("/api/orchestrate", json={})
        both = await http.post("/api/orchestrate", json={"request": "shout x", "plan": plan})
    assert neither.status_code == 422
    assert "give `request`" in neither.json()["detail"]
    assert both.status_code == 202
    assert both.json()["execution"]["request"] == "shout x"
    assert both.json()["execution"]["name"] == "shout x"


async def test_an_invalid_plan_lists_its_problems_and_stores_nothing(api: Api) -> None:
    plan = {"steps": [{"id": "a", "agent": "no.such.agent", "inputs": {}}]}
    async with api.client(api.admin_key) as http:
        response = await http.post("/api/orchestrate", json={"plan": plan})
        listed = (await http.get("/api/orchestrate")).json()
    assert response.status_code == 422
    body = response.json()
    assert body["type"] == "https://baton.dev/problems/invalid-plan"
    assert body["errors"][0]["step"] == "a"
    assert listed["items"] == []


async def test_a_body_over_the_limit_is_refused_with_413(api: Api) -> None:
    huge = {"request": "x" * 2_000_000}
    async with api.client(api.admin_key) as http:
        declared = await http.post("/api/orchestrate", json=huge)

        async def chunks():  # no Content-Length: counted as it arrives
            for _ in range(40):
                yield b"x" * 65_536

        streamed = await http.post(
            "/api/orchestrate", content=chunks(), headers={"content-type": "application/json"}
        )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["type"] == "https://baton.dev/problems/payload-too-large"


async def test_unknown_execution_is_a_404_problem(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        response = await http.get("/api/orchestrate/ex_nope")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["detail"] == "execution ex_nope not found"


async def test_dry_run_plans_without_running(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        response = await http.post(
            "/api/orchestrate",
            json={"request": "uppercase the text 'hello world'", "dry_run": True},
        )
        listed = (await http.get("/api/orchestrate")).json()
    assert response.status_code == 200, response.text
    preview = response.json()["preview"]
    assert response.json()["execution"] is None
    assert preview["plan"]["steps"]
    assert preview["critical_path"]
    assert preview["estimated_duration_s"] > 0
    assert listed["items"] == []


async def test_health_and_readiness_need_no_key(api: Api) -> None:
    async with api.client() as http:
        assert (await http.get("/api/health")).json() == {"status": "ok", "detail": None}
        assert (await http.get("/api/ready")).json()["status"] == "ok"


async def test_openapi_documents_the_routes_and_problem_responses(api: Api) -> None:
    async with api.client() as http:
        spec = (await http.get("/openapi.json")).json()
        docs = await http.get("/docs")
    assert docs.status_code == 200
    paths = spec["paths"]
    for path in (
        "/api/orchestrate",
        "/api/orchestrate/{execution_id}",
        "/api/orchestrate/{execution_id}/stream",
        "/api/approvals/{approval_id}/approve",
        "/api/workspace/keys",
    ):
        assert path in paths
    not_found = paths["/api/orchestrate/{execution_id}"]["get"]["responses"]["404"]
    assert PROBLEM in not_found["content"]


async def test_an_expired_key_gets_the_same_401_as_an_unknown_one(api: Api) -> None:
    soon = datetime.now(UTC) + timedelta(seconds=1.5)
    async with api.client(api.admin_key) as admin:
        created = await admin.post(
            "/api/workspace/keys", json={"name": "short", "expires_at": soon.isoformat()}
        )
        past = await admin.post(
            "/api/workspace/keys",
            json={"name": "old", "expires_at": "2001-01-01T00:00:00Z"},
        )
    assert created.status_code == 201
    assert past.status_code == 400
    assert "future" in past.json()["detail"]
    token = created.json()["token"]
    async with api.client(token) as http:
        assert (await http.get("/api/me")).status_code == 200
        await anyio.sleep((soon - datetime.now(UTC)).total_seconds() + 0.1)
        expired = await http.get("/api/me")
    async with api.client("baton_000000000000_" + "x" * 43) as http:
        unknown = await http.get("/api/me")
    assert expired.status_code == 401
    assert expired.json() == unknown.json()
