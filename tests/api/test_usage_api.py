"""Budgets on ``POST /api/orchestrate`` and model usage in the execution view."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from baton.errors import NotFoundError
from support.api import Api

pytestmark = pytest.mark.anyio

PLAN: dict[str, Any] = {
    "name": "shout",
    "steps": [
        {"id": "a", "agent": "text.transform", "inputs": {"text": "hi", "operation": "upper"}}
    ],
}
PLANNED = {
    **PLAN,
    "provenance": {
        "planner": "llm",
        "provider": "gemini",
        "model": "gemini-2.5-flash",
        "calls": 2,
        "input_tokens": 800,
        "output_tokens": 150,
        "cost_usd": 0.0012,
    },
    "version": 2,
    "revised_because": "step a failed",
}


async def finished(api: Api, execution_id: str) -> dict[str, Any]:
    async with api.client(api.admin_key) as http:
        with anyio.fail_after(20):
            while True:
                body: dict[str, Any] = (await http.get(f"/api/orchestrate/{execution_id}")).json()
                if body["status"] in ("succeeded", "failed", "cancelled"):
                    return body
                await anyio.sleep(0.05)


async def test_the_budget_goes_on_the_plan(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        answer = await http.post(
            "/api/orchestrate",
            json={"plan": PLAN, "dry_run": True, "max_tokens": 5000, "max_cost_usd": 0.5},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["preview"]["plan"]["budget"] == {
            "max_tokens": 5000,
            "max_cost_usd": 0.5,
        }
        planned = await http.post(
            "/api/orchestrate",
            json={"request": "uppercase the text 'hello'", "dry_run": True, "max_cost_usd": 2},
        )
        assert planned.json()["preview"]["plan"]["budget"] == {"max_cost_usd": 2.0}
        started = await http.post("/api/orchestrate", json={"plan": PLAN, "max_tokens": 7})
        assert started.status_code == 202, started.text
        body = await finished(api, started.json()["execution"]["id"])
        assert body["plan"]["budget"] == {"max_tokens": 7, "max_cost_usd": None}


@pytest.mark.parametrize(
    "limits",
    [
        {"max_tokens": 0},
        {"max_tokens": "100"},
        {"max_tokens": 1.5},
        {"max_tokens": True},
        {"max_cost_usd": 0},
        {"max_cost_usd": -1},
        {"max_cost_usd": "0.5"},
        {"max_cost": 1},
    ],
)
async def test_bad_limits_are_refused(api: Api, limits: dict[str, Any]) -> None:
    async with api.client(api.admin_key) as http:
        answer = await http.post("/api/orchestrate", json={"plan": PLAN, **limits})
    assert answer.status_code == 422, answer.text
    assert next(iter(limits)) in answer.text


async def test_the_execution_view_has_the_plan_version_and_usage(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        plain = await http.post("/api/orchestrate", json={"plan": PLAN})
        replanned = await http.post("/api/orchestrate", json={"plan": PLANNED})
    zero = {"calls": 0, "input_tokens": 0, "output_tokens": 0, "cost_usd": 0.0, "unpriced_calls": 0}

    body = await finished(api, plain.json()["execution"]["id"])
    assert body["plan_version"] == 1
    assert body["usage"] == {"planning": zero, "steps": {}, "total": zero}

    body = await finished(api, replanned.json()["execution"]["id"])
    assert body["plan_version"] == 2
    planning = {**zero, "calls": 2, "input_tokens": 800, "output_tokens": 150, "cost_usd": 0.0012}
    assert body["usage"] == {"planning": planning, "steps": {}, "total": planning}


async def test_usage_of_an_unknown_execution(api: Api) -> None:
    with pytest.raises(NotFoundError):
        await api.baton.usage("ex_nope")
