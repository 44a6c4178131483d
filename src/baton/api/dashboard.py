"""The dashboard's built files, served at ``/`` by the API (no Node needed at run time).

The React app is built by ``scripts/build-dashboard`` into ``baton/dashboard/static``
(``index.html`` and hashed ``assets/*``), which ships inside the Python package. Here:

- a file of that folder is served as it is; ``assets/*`` names change with their content,
  so they are cached for a year (``immutable``), while ``index.html`` is revalidated on every
  load (``no-cache``), so a new build reaches browsers at once;
- any other GET outside the API's own paths answers ``index.html``: the app routes in the
  browser (``/executions/ex_...`` is a page of the app, not a file);
- when nothing is built, ``/`` answers a short page saying how to build it.

The route matches only GET and HEAD outside `API_PREFIXES`, so an unknown API path is still
the API's 404 problem, and the methods an API path allows are the API's alone.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Match, Route
from starlette.types import Scope

from baton.dashboard import STATIC_DIR

__all__ = ["API_PREFIXES", "install_dashboard"]


API_PREFIXES = ("/api", "/metrics", "/docs", "/redoc", "/openapi.json")
"""Paths that belong to the API and never fall back to the app's page."""

IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache header of hashed assets: their name changes whenever their content does."""
REVALIDATE = "no-cache"
"""Cache header of everything else: the browser asks again (cheaply, by ETag) every time."""

NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>baton</title></head>
<body><main><h1>The baton dashboard is not built</h1>
<p>This baton was installed from a source checkout without the dashboard's built files.
Run <code>scripts/build-dashboard</code> (it needs Node.js), then reload this page.
The API works meanwhile: see <a href="/docs">/docs</a>.</p></main></body></html>
"""


# Any path but the API's: its regex is also what the 405 handler's Allow header reads
# (`baton.api.problems`), so an API path must not match it at all.
_NOT_API = re.compile(
    "^/(?!(?:"
    + "|".join(re.escape(p.removeprefix("/")) for p in API_PREFIXES)
    + ")(?:/|$))(?P<path>.*)$"
)


class _DashboardRoute(Route):
    """A catch-all GET route that leaves the API's paths and other methods alone."""

    def __init__(self, endpoint: Callable[[Request], Awaitable[Response]]) -> None:
        super().__init__("/{path:path}", endpoint, methods=["GET", "HEAD"], include_in_schema=False)
        self.path_regex = _NOT_API

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        """Match GET and HEAD outside the API only (another method: not found, not 405)."""
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            return Match.NONE, {}
        return super().matches(scope)


class _Dashboard:
    """Answers a path with a built file, ``index.html``, or the "not built" page."""

    def __init__(self, static_dir: Path) -> None:
        self._root = static_dir.resolve()

    async def respond(self, request: Request) -> Response:
        """The file the path names, else the app's page."""
        path: str = request.path_params.get("path", "")
        found = self._file(path)
        if found is not None:
            cache = IMMUTABLE if path.startswith("assets/") else REVALIDATE
            return FileResponse(found, headers={"Cache-Control": cache})
        index = self._root / "index.html"
        if index.is_file():
            return FileResponse(index, headers={"Cache-Control": REVALIDATE})
        return HTMLResponse(NOT_BUILT, headers={"Cache-Control": REVALIDATE})

    def _file(self, path: str) -> Path | None:
        if not path:
            return None
        candidate = (self._root / path).resolve()
        # `..` or a symlink out of the folder is not a file of the dashboard.
        if not candidate.is_relative_to(self._root) or not candidate.is_file():
            return None
        return candidate


def install_dashboard(app: FastAPI, static_dir: Path = STATIC_DIR) -> None:
    """Serve the built dashboard from `static_dir` at ``/`` (after every API route).

    Args:
        app: The API; call this after its routers are included.
        static_dir: The built files (``index.html``, ``assets/``).
    """
    # A bound method: Starlette wraps it as a request -> response endpoint.
    endpoint = _Dashboard(static_dir).respond
    app.router.routes.append(_DashboardRoute(endpoint))
