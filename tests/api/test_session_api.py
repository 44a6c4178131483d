"""``/api/session``: dashboard sign-in, the session cookie as an alternative to a key, CSRF."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from baton.api.app import create_app
from baton.app import Baton
from baton.settings import Settings
from support.api import Api, running_api
from support.live_server import live_server

pytestmark = pytest.mark.anyio

PLAN = {
    "steps": [{"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}]
}


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Each Set-Cookie header of the response, by cookie name, lowercased."""
    found: dict[str, str] = {}
    for header in response.headers.get_list("set-cookie"):
        found[header.split("=", 1)[0]] = header.lower()
    return found


async def sign_in(http: httpx.AsyncClient, key: str) -> str:
    """Sign `http` in with `key`; its cookie jar keeps the session. Returns the CSRF token."""
    response = await http.post("/api/session", json={"api_key": key})
    assert response.status_code == 200, response.text
    csrf: str = response.json()["csrf_token"]
    return csrf


async def viewer_key(api: Api) -> str:
    async with api.client(api.admin_key) as admin:
        user = await admin.post("/api/workspace/members", json={"name": "vi", "role": "viewer"})
        key = await admin.post(
            "/api/workspace/keys", json={"name": "vi", "user_id": user.json()["id"]}
        )
    token: str = key.json()["token"]
    return token


async def test_sign_in_sets_the_cookies_and_answers_like_me(api: Api) -> None:
    async with api.client() as http, api.client(api.admin_key) as keyed:
        response = await http.post("/api/session", json={"api_key": api.admin_key})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["principal"] == (await keyed.get("/api/me")).json()
        cookies = set_cookies(response)
        session, csrf = cookies["baton_session"], cookies["baton_csrf"]
        for cookie in (session, csrf):
            assert "samesite=strict" in cookie
            assert "path=/" in cookie
            assert "secure" not in cookie  # plain http: a Secure cookie would not come back
            assert "max-age=43200" in cookie
        assert "httponly" in session
        assert "httponly" not in csrf
        assert http.cookies["baton_csrf"] == body["csrf_token"]
        assert api.admin_key not in response.text  # the key is not echoed anywhere
        # The cookie alone authenticates now.
        me = await http.get("/api/me")
        assert me.status_code == 200
        assert me.json() == body["principal"]


async def test_the_cookies_are_secure_over_https(api: Api) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback: the request counts as https.
    async with api.client() as http:
        response = await http.post(
            "/api/session",
            json={"api_key": api.admin_key},
            headers={"X-Forwarded-Proto": "https"},
        )
    assert response.status_code == 200
    assert all("; secure" in c for c in set_cookies(response).values())


async def test_a_bad_key_gets_the_same_401_as_any_bad_key(api: Api) -> None:
    async with api.client() as http, api.client("baton_0123456789ab_" + "x" * 43) as bad:
        refused = await http.post("/api/session", json={"api_key": "baton_nope"})
        empty = await http.post("/api/session", json={"api_key": ""})
        unknown = await bad.get("/api/me")
    assert refused.status_code == 401
    assert refused.json() == unknown.json() == empty.json()
    assert refused.headers["www-authenticate"] == "Bearer"
    assert "set-cookie" not in refused.headers


async def test_a_cookie_change_needs_the_csrf_token(api: Api) -> None:
    async with api.client() as http:
        csrf = await sign_in(http, api.admin_key)
        missing = await http.post("/api/orchestrate", json={"plan": PLAN})
        wrong = await http.post(
            "/api/orchestrate", json={"plan": PLAN}, headers={"X-CSRF-Token": "0" * 64}
        )
        right = await http.post(
            "/api/orchestrate", json={"plan": PLAN}, headers={"X-CSRF-Token": csrf}
        )
    for refused in (missing, wrong):
        assert refused.status_code == 403
        assert refused.json()["type"] == "https://baton.dev/problems/csrf-failed"
        assert refused.json()["title"] == "CSRF check failed"
        assert "X-CSRF-Token" in refused.json()["hint"]
    assert right.status_code == 202, right.text


async def test_a_header_key_needs_no_csrf_token_and_wins_over_the_cookie(api: Api) -> None:
    viewer = await viewer_key(api)
    async with api.client() as http:
        await sign_in(http, api.admin_key)
        as_viewer = await http.get("/api/me", headers={"Authorization": f"Bearer {viewer}"})
        assert as_viewer.json()["role"] == "viewer"
        # A header-authenticated change carries no ambient credential: no CSRF token needed.
        started = await http.post(
            "/api/orchestrate",
            json={"plan": PLAN},
            headers={"Authorization": f"Bearer {api.admin_key}"},
        )
        assert started.status_code == 202
        # A bad header is a 401 even with a good cookie: the header is what was meant.
        bad = await http.get("/api/me", headers={"X-API-Key": "baton_nope"})
        assert bad.status_code == 401


async def test_a_viewer_session_has_the_viewer_role(api: Api) -> None:
    async with api.client() as http:
        csrf = await sign_in(http, await viewer_key(api))
        assert (await http.get("/api/orchestrate")).status_code == 200
        refused = await http.post(
            "/api/orchestrate", json={"plan": PLAN}, headers={"X-CSRF-Token": csrf}
        )
    assert refused.status_code == 403
    assert refused.json()["type"] == "https://baton.dev/problems/forbidden"


async def test_sign_out_needs_csrf_then_ends_the_session(api: Api) -> None:
    async with api.client() as http:
        csrf = await sign_in(http, api.admin_key)
        token = http.cookies["baton_session"]
        assert (await http.delete("/api/session")).status_code == 403
        out = await http.delete("/api/session", headers={"X-CSRF-Token": csrf})
        assert out.status_code == 204
        cleared = set_cookies(out)
        assert "max-age=0" in cleared["baton_session"]
        assert "max-age=0" in cleared["baton_csrf"]
        assert "baton_session" not in http.cookies
        # The old token is dead server-side too, not only forgotten by this client.
        replay = await http.get("/api/me", headers={"Cookie": f"baton_session={token}"})
        assert replay.status_code == 401
        # Signing out without a session just clears the cookies.
        assert (await http.delete("/api/session")).status_code == 204


async def test_revoking_the_key_ends_its_sessions(api: Api) -> None:
    async with api.client(api.admin_key) as admin:
        created = await admin.post("/api/workspace/keys", json={"name": "browser"})
    token, key_id = created.json()["token"], created.json()["key"]["id"]
    async with api.client() as http:
        await sign_in(http, token)
        assert (await http.get("/api/me")).status_code == 200
        async with api.client(api.admin_key) as admin:
            assert (await admin.delete(f"/api/workspace/keys/{key_id}")).status_code == 204
        assert (await http.get("/api/me")).status_code == 401


async def test_the_stream_accepts_the_cookie(api: Api) -> None:
    async with api.client() as http:
        csrf = await sign_in(http, api.admin_key)
        started = await http.post(
            "/api/orchestrate", json={"plan": PLAN}, headers={"X-CSRF-Token": csrf}
        )
        ex_id = started.json()["execution"]["id"]
        # An EventSource sends cookies and no headers; the stream ends with the execution.
        async with http.stream("GET", f"/api/orchestrate/{ex_id}/stream") as stream:
            assert stream.status_code == 200
            text = (await stream.aread()).decode()
    assert "execution_finished" in text or "execution_succeeded" in text, text[-500:]


async def test_a_session_survives_a_server_restart(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    async with running_api(settings, in_memory=False) as first, first.client() as http:
        await sign_in(http, first.admin_key)
        token = http.cookies["baton_session"]
    # The same database, a new process's engine (no first key is made this time).
    async with (
        Baton.open(settings, discover_plugins=False) as baton,
        live_server(create_app(settings, baton=baton)) as server,
        httpx.AsyncClient(base_url=server.url, cookies={"baton_session": token}) as http,
    ):
        me = await http.get("/api/me")
    assert me.status_code == 200
    assert me.json()["role"] == "admin"
