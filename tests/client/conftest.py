"""Fixtures of the client tests: a live server on an in-memory engine, and clients of it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from baton.client import BatonClient
from baton.settings import Settings
from support.api import Api, running_api


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]


@pytest.fixture
async def api(api_settings: Settings) -> AsyncIterator[Api]:
    async with running_api(api_settings) as running:
        yield running


@pytest.fixture
async def admin(api: Api) -> AsyncIterator[BatonClient]:
    """A client with the first admin's key."""
    async with BatonClient(api.url, api.admin_key, timeout=10) as client:
        yield client
