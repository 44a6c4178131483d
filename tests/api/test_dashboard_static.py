"""The built dashboard at ``/``: files, the app's page for its own routes, cache headers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from baton.api.dashboard import IMMUTABLE, REVALIDATE, install_dashboard
from support.api import Api

pytestmark = pytest.mark.anyio

INDEX = "<!doctype html><title>baton</title><div id=root></div>"


def client_for(static_dir: Path) -> httpx.AsyncClient:
    app = FastAPI()
    install_dashboard(app, static_dir)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.fixture
def built(tmp_path: Path) -> Path:
    static = tmp_path / "static"
    (static / "assets").mkdir(parents=True)
    (static / "index.html").write_text(INDEX)
    (static / "assets" / "index-3f9a1c.js").write_text("console.log(1)")
    (static / "favicon.svg").write_text("<svg/>")
    (tmp_path / "secret.txt").write_text("outside")
    return static


async def test_files_are_served_with_the_right_cache_headers(built: Path) -> None:
    async with client_for(built) as http:
        root = await http.get("/")
        asset = await http.get("/assets/index-3f9a1c.js")
        icon = await http.get("/favicon.svg")
    assert root.text == INDEX
    assert root.headers["content-type"].startswith("text/html")
    assert root.headers["cache-control"] == REVALIDATE
    assert asset.text == "console.log(1)"
    assert asset.headers["cache-control"] == IMMUTABLE
    assert "javascript" in asset.headers["content-type"]
    assert icon.headers["cache-control"] == REVALIDATE


async def test_the_apps_own_routes_get_its_page(built: Path) -> None:
    async with client_for(built) as http:
        for path in ("/executions/ex_01abc", "/approvals", "/deep/ly/nested?x=1"):
            page = await http.get(path)
            assert page.status_code == 200
            assert page.text == INDEX
            assert page.headers["cache-control"] == REVALIDATE


async def test_no_file_outside_the_folder_is_served(built: Path) -> None:
    async with client_for(built) as http:
        for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt"):
            page = await http.get(path)
            assert "outside" not in page.text


async def test_without_a_build_the_page_says_how_to_build(tmp_path: Path) -> None:
    async with client_for(tmp_path / "empty") as http:
        for path in ("/", "/executions"):
            page = await http.get(path)
            assert page.status_code == 200
            assert "scripts/build-dashboard" in page.text


async def test_the_api_paths_are_never_the_apps_page(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        unknown = await http.get("/api/nope")
        posted = await http.post("/somewhere")
        docs = await http.get("/docs")
        page = await http.get("/executions/ex_1")
        spec = (await http.get("/openapi.json")).json()
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert posted.status_code == 404  # another method outside the API: not a 405
    assert "swagger" in docs.text.lower()
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert not any(p == "/{path}" for p in spec["paths"])  # not documented as an API route


async def test_an_api_paths_allowed_methods_are_the_apis_own(api: Api) -> None:
    async with api.client(api.admin_key) as http:
        session = await http.request("OPTIONS", "/api/session")
        keys = await http.request("OPTIONS", "/api/workspace/keys")
    assert session.status_code == 405
    assert session.headers["allow"] == "DELETE, POST"
    assert "GET" in keys.headers["allow"]
    assert "POST" in keys.headers["allow"]
