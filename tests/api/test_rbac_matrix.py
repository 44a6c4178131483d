"""Every route x two workspaces x each role x objects of both workspaces.

The expected answer comes from the role table (`ROLE_PERMISSIONS`), not from the routes:

- the role lacks the route's permission  -> 403, whichever object is named;
- it has it, and the object is its own  -> the route's success status;
- it has it, and the object belongs to the other workspace -> 404, exactly as for a missing
  one (same body, except for the id).

Besides the status, every response body is searched for every id of the other workspace
(executions, approvals, users, keys, the workspace itself): one found is a leak. The test
fails on any mismatch or leak, and prints the counts.
"""

from __future__ import annotations

import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import pytest

from baton.enterprise.roles import ROLE_PERMISSIONS, Permission, Role
from support.api import Api

pytestmark = pytest.mark.anyio

SIMPLE_PLAN = {
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


@dataclass
class Workspace:
    """One workspace of the matrix: its id, a key per role, and the ids made in it."""

    id: str
    keys: dict[Role, str] = field(default_factory=dict[Role, str])
    user_ids: dict[Role, str] = field(default_factory=dict[Role, str])
    ids: set[str] = field(default_factory=set[str])
    """Every id made in it (for the leak search)."""


@dataclass(frozen=True)
class Route:
    """A route, the permission it needs, and how to make a fresh object for it."""

    method: str
    path: str
    permission: Permission | None  # None: any authenticated caller
    success: int
    make: Callable[[Api, Workspace], Awaitable[dict[str, Any]]] | None = None
    """Makes the object(s) the path names, in a workspace; returns path params and body."""
    body: dict[str, Any] | None = None
    scoped: bool = True
    """False: the route names no workspace object (one case per role, no cross check)."""


async def admin_call(api: Api, ws: Workspace, method: str, url: str, **kw: Any) -> Any:
    async with api.client(ws.keys[Role.ADMIN]) as http:
        response = await http.request(method, url, **kw)
        assert response.status_code < 300, (url, response.text)
        return response.json() if response.content else None


async def new_execution(api: Api, ws: Workspace, plan: dict[str, Any], wait_for: str) -> str:
    body = await admin_call(api, ws, "POST", "/api/orchestrate", json={"plan": plan})
    ex_id: str = body["execution"]["id"]
    ws.ids.add(ex_id)
    async with api.client(ws.keys[Role.ADMIN]) as http:
        with anyio.fail_after(20):
            while True:
                if (await http.get(f"/api/orchestrate/{ex_id}")).json()["status"] == wait_for:
                    break
                await anyio.sleep(0.02)
    return ex_id


async def finished_execution(api: Api, ws: Workspace) -> dict[str, Any]:
    return {"execution_id": await new_execution(api, ws, SIMPLE_PLAN, "succeeded")}


async def waiting_execution(api: Api, ws: Workspace) -> dict[str, Any]:
    return {"execution_id": await new_execution(api, ws, GATED_PLAN, "waiting")}


async def pending_approval(api: Api, ws: Workspace) -> dict[str, Any]:
    ex_id = await new_execution(api, ws, GATED_PLAN, "waiting")
    approvals = await admin_call(api, ws, "GET", "/api/approvals")
    approval_id = next(a["id"] for a in approvals if a["execution_id"] == ex_id)
    ws.ids.add(approval_id)
    return {"approval_id": approval_id}


async def new_member(api: Api, ws: Workspace) -> dict[str, Any]:
    user = await admin_call(
        api, ws, "POST", "/api/workspace/members", json={"name": "extra", "role": "viewer"}
    )
    ws.ids.add(user["id"])
    return {"user_id": user["id"]}


async def service_account_key(api: Api, ws: Workspace) -> dict[str, Any]:
    user = await admin_call(
        api,
        ws,
        "POST",
        "/api/workspace/members",
        json={"name": "robot", "role": "member", "kind": "service"},
    )
    key = await admin_call(
        api, ws, "POST", "/api/workspace/keys", json={"name": "robot", "user_id": user["id"]}
    )
    ws.ids.update({user["id"], key["key"]["id"]})
    return {"key_id": key["key"]["id"]}


async def agent_name(api: Api, ws: Workspace) -> dict[str, Any]:
    return {"name": "text.transform"}


P = Permission
ROUTES: list[Route] = [
    Route(
        "POST", "/api/orchestrate", P.EXECUTIONS_RUN, 202, body={"plan": SIMPLE_PLAN}, scoped=False
    ),
    Route("GET", "/api/orchestrate", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/api/orchestrate/{execution_id}", P.EXECUTIONS_READ, 200, finished_execution),
    Route(
        "GET", "/api/orchestrate/{execution_id}/steps", P.EXECUTIONS_READ, 200, finished_execution
    ),
    Route(
        "GET", "/api/orchestrate/{execution_id}/events", P.EXECUTIONS_READ, 200, finished_execution
    ),
    Route(
        "GET", "/api/orchestrate/{execution_id}/trace", P.EXECUTIONS_READ, 200, finished_execution
    ),
    Route(
        "GET", "/api/orchestrate/{execution_id}/stream", P.EXECUTIONS_READ, 200, finished_execution
    ),
    Route(
        "POST",
        "/api/orchestrate/{execution_id}/cancel",
        P.EXECUTIONS_CANCEL,
        202,
        waiting_execution,
    ),
    Route(
        "POST", "/api/orchestrate/{execution_id}/resume", P.EXECUTIONS_RUN, 202, waiting_execution
    ),
    Route(
        "POST",
        "/api/orchestrate/{execution_id}/feedback",
        P.FEEDBACK_WRITE,
        201,
        finished_execution,
        body={"rating": 5},
    ),
    Route("GET", "/api/approvals", P.APPROVALS_READ, 200, scoped=False),
    Route("GET", "/api/approvals/{approval_id}", P.APPROVALS_READ, 200, pending_approval),
    Route(
        "POST",
        "/api/approvals/{approval_id}/approve",
        P.APPROVALS_DECIDE,
        200,
        pending_approval,
        body={"resume": False},
    ),
    Route(
        "POST",
        "/api/approvals/{approval_id}/reject",
        P.APPROVALS_DECIDE,
        200,
        pending_approval,
        body={"reason": "no", "resume": False},
    ),
    Route("GET", "/api/agents", P.AGENTS_READ, 200, scoped=False),
    Route("GET", "/api/agents/{name}", P.AGENTS_READ, 200, agent_name, scoped=False),
    Route("GET", "/api/me", None, 200, scoped=False),
    Route("GET", "/api/workspaces", None, 200, scoped=False),
    Route("GET", "/api/workspaces/current", None, 200, scoped=False),
    Route("POST", "/api/workspaces", P.WORKSPACES_CREATE, 201, body={"name": "more"}, scoped=False),
    Route("GET", "/api/stream", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/api/alerts", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/api/logs", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/api/logs/export", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/api/logs/stream", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/api/stats", P.EXECUTIONS_READ, 200, scoped=False),
    Route("GET", "/metrics", P.METRICS_READ, 200, scoped=False),
    Route("GET", "/api/workspace/members", P.MEMBERS_READ, 200, scoped=False),
    Route(
        "POST",
        "/api/workspace/members",
        P.MEMBERS_MANAGE,
        201,
        body={"name": "new", "role": "viewer"},
        scoped=False,
    ),
    Route(
        "PATCH",
        "/api/workspace/members/{user_id}",
        P.MEMBERS_MANAGE,
        200,
        new_member,
        body={"role": "member"},
    ),
    Route("DELETE", "/api/workspace/members/{user_id}", P.MEMBERS_MANAGE, 204, new_member),
    Route("GET", "/api/workspace/keys", P.KEYS_READ_OWN, 200, scoped=False),
    Route(
        "POST", "/api/workspace/keys", P.KEYS_MANAGE_OWN, 201, body={"name": "mine"}, scoped=False
    ),
    # Another user's key: revoking it takes keys:manage_all (per resource); for a role that
    # may manage only its own keys, someone else's key is "not found" (it must not leak).
    Route("DELETE", "/api/workspace/keys/{key_id}", P.KEYS_MANAGE_ALL, 204, service_account_key),
]
PUBLIC = {
    ("GET", "/api/health"),
    ("GET", "/api/ready"),
    # Signing in authenticates with the key in its body, not a header; signing out needs
    # no credential (it ends the cookie's session, if any). Both: tests/api/test_session_api.py.
    ("POST", "/api/session"),
    ("DELETE", "/api/session"),
}


def expected(route: Route, role: Role, own: bool) -> int:
    if route.permission is None or route.permission in ROLE_PERMISSIONS[role]:
        return route.success if own else 404
    if route.path == "/api/workspace/keys/{key_id}" and P.KEYS_MANAGE_OWN in ROLE_PERMISSIONS[role]:
        return 404  # may revoke own keys: another user's key is not found for them
    return 403


async def call(api: Api, key: str, route: Route, params: dict[str, Any]) -> tuple[int, str]:
    url = route.path.format(**params)
    async with api.client(key) as http:
        if url.endswith("/stream"):
            # A stream answers its status at once; the workspace stream never ends by itself.
            async with http.stream(route.method, url) as response:
                if url.startswith("/api/orchestrate/") and response.status_code == 200:
                    text = (await response.aread()).decode()
                else:
                    text = "" if response.status_code == 200 else (await response.aread()).decode()
                return response.status_code, text
        response = await http.request(route.method, url, json=route.body)
        return response.status_code, response.text


async def setup_workspaces(api: Api) -> tuple[Workspace, Workspace]:
    first = Workspace(id="default", keys={Role.ADMIN: api.admin_key})
    created = await admin_call(api, first, "POST", "/api/workspaces", json={"name": "other"})
    second = Workspace(id=created["workspace"]["id"], keys={Role.ADMIN: created["admin_key"]})
    # "default" is also an ordinary word (agent descriptions use it): search the other id only.
    second.ids.add(second.id)
    for ws in (first, second):
        me = await admin_call(api, ws, "GET", "/api/me")
        ws.user_ids[Role.ADMIN] = me["user_id"]
        for role in (Role.MEMBER, Role.VIEWER):
            user = await admin_call(
                api,
                ws,
                "POST",
                "/api/workspace/members",
                json={"name": role.value, "role": role.value},
            )
            key = await admin_call(
                api,
                ws,
                "POST",
                "/api/workspace/keys",
                json={"name": role.value, "user_id": user["id"]},
            )
            ws.keys[role] = key["token"]
            ws.user_ids[role] = user["id"]
            ws.ids.update({user["id"], key["key"]["id"]})
        ws.ids.update(k["id"] for k in await admin_call(api, ws, "GET", "/api/workspace/keys"))
        # Objects that the list routes must show to their own workspace only.
        await finished_execution(api, ws)
        await pending_approval(api, ws)
    return first, second


async def test_every_route_role_and_workspace_matches_the_role_table(api: Api) -> None:
    async with api.client() as http:
        spec = (await http.get("/openapi.json")).json()
    documented = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert documented == {(r.method, r.path) for r in ROUTES} | PUBLIC, (
        "a route is not in the matrix"
    )

    first, second = await setup_workspaces(api)
    cases = mismatches = leaks = 0
    problems: list[str] = []
    for route, (caller, other), role in itertools.product(
        ROUTES, ((first, second), (second, first)), Role
    ):
        targets = [(True, caller)] + ([(False, other)] if route.scoped else [])
        for own, target in targets:
            params = await route.make(api, target) if route.make else {}
            status, text = await call(api, caller.keys[role], route, params)
            cases += 1
            want = expected(route, role, own)
            if status != want:
                mismatches += 1
                whose = "own" if own else "other"
                problems.append(
                    f"{route.method} {route.path} as {role} ({whose}): "
                    f"{status} != {want}: {text[:200]}"
                )
            # The id the caller named may be echoed ("... ex_1 not found"): not a leak.
            named = {str(v) for v in params.values()}
            found = [i for i in other.ids - named if i in text]
            if found:
                leaks += 1
                problems.append(
                    f"{route.method} {route.path} as {role}: leaked {found}: {text[:300]}"
                )
    print(  # noqa: T201  # the counts are part of what this test reports
        f"\nRBAC matrix: {len(ROUTES)} routes x 2 workspaces x {len(Role)} roles: "
        f"{cases} cases, {mismatches} mismatches, {leaks} leaks"
    )
    assert problems == [], "\n".join(problems)
