"""A live API server for tests: its engine, its URL and the first admin's key."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx

from baton.api.app import create_app
from baton.app import Baton
from baton.settings import Settings
from support.live_server import LiveServer, live_server


@dataclass(slots=True)
class Api:
    """A running server, its engine, and the first admin's key."""

    server: LiveServer
    baton: Baton
    admin_key: str

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        """An HTTP client for the server, sending `key` (none: anonymous)."""
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        return httpx.AsyncClient(base_url=self.server.url, headers=headers, timeout=30, **kwargs)


@contextlib.asynccontextmanager
async def running_api(settings: Settings, *, in_memory: bool = True) -> AsyncIterator[Api]:
    """Open an engine, serve the API on a free loopback port, yield it."""
    keys: list[str] = []
    async with Baton.open(settings, in_memory=in_memory, discover_plugins=False) as baton:
        app = create_app(settings, baton=baton, on_first_key=keys.append)
        async with live_server(app) as server:
            yield Api(server=server, baton=baton, admin_key=keys[0])
