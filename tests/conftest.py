"""Shared fixtures. Async tests run on asyncio through the anyio plugin.

Backends for the store conformance suites: in memory, SQLite, and a real PostgreSQL server.

The PostgreSQL server (see ``tests/support/postgres.py``) is installed, if missing, right after
collection, outside any test's timeout, and started once per session by the first test that
needs it; each test then gets an empty database of its own. Tests on PostgreSQL carry the
``postgres`` marker (``-m "not postgres"`` leaves the server alone). When PostgreSQL cannot be
installed or started, those tests fail with the reason: they are never skipped.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from baton.store.sql.database import Database, open_database, sqlite_url
from baton.store.sql.schema import create_schema

sys.path.insert(0, str(Path(__file__).parent))  # for `support`: pytest runs importlib mode
from support.postgres import (
    PostgresServer,
    PostgresUnavailable,
    ensure_installed,
    fresh_database,
    start_postgres,
    stop_postgres,
)

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
STORE_BACKENDS = ["memory", *SQL_BACKENDS]

_BINDIR = pytest.StashKey[Path]()
_UNAVAILABLE = pytest.StashKey[PostgresUnavailable]()


@pytest.hookimpl(trylast=True)  # after `-m`/`-k` deselection
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # apt-get can take minutes on a fresh machine: longer than one test's timeout.
    if config.option.collectonly:
        return
    if any(item.get_closest_marker("postgres") for item in items):
        try:
            config.stash[_BINDIR] = ensure_installed()
        except PostgresUnavailable as exc:
            config.stash[_UNAVAILABLE] = exc


@pytest.fixture(scope="session")
def postgres_server(pytestconfig: pytest.Config) -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use, stopped and removed at the end)."""
    if (error := pytestconfig.stash.get(_UNAVAILABLE, None)) is not None:
        pytest.fail(f"PostgreSQL is unavailable: {error}", pytrace=False)
    try:
        server = start_postgres(pytestconfig.stash.get(_BINDIR, None))
    except PostgresUnavailable as exc:
        pytest.fail(f"could not start the PostgreSQL test server: {exc}", pytrace=False)
    try:
        yield server
    finally:
        stop_postgres(server)


@contextlib.asynccontextmanager
async def _empty_database_url(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[str]:
    if backend == "sqlite":
        yield sqlite_url(tmp_path / "baton.db")
        return
    # A sync session fixture, so asking for it from async code is fine.
    server: PostgresServer = request.getfixturevalue("postgres_server")
    async with fresh_database(server) as url:
        yield url


@contextlib.asynccontextmanager
async def _schema_database(url: str) -> AsyncIterator[Database]:
    db = open_database(url)
    try:
        await create_schema(db)
        yield db
    finally:
        await db.dispose()


@pytest.fixture(params=SQL_BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database: a SQLite file, or a new database on the PG server."""
    async with _empty_database_url(request.param, request, tmp_path) as url:
        yield url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    """An open `Database` with baton's schema, on each SQL backend; disposed afterwards."""
    async with _schema_database(database_url) as db:
        yield db


@pytest.fixture(params=STORE_BACKENDS)
async def store_database(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[Database | None]:
    """What a store under test is built on: None for the in-memory store, else a `Database`
    with baton's schema (SQLite or PostgreSQL); disposed afterwards."""
    if request.param == "memory":
        yield None
        return
    async with (
        _empty_database_url(request.param, request, tmp_path) as url,
        _schema_database(url) as db,
    ):
        yield db


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
