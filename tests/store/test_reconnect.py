"""A PostgreSQL connection dropped by the server is replaced without the caller noticing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import text

from baton.store.sql.database import open_database

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def test_a_dropped_pooled_connection_is_replaced(postgres_server: Any) -> None:
    db = open_database(postgres_server.url())
    try:

        def backend_pid(conn: Any) -> int:
            return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())

        first = await db.transaction(backend_pid)
        # The server ends the pooled connection (as a restart or an idle timeout would).
        admin = await postgres_server.connect()
        try:
            await admin.execute("SELECT pg_terminate_backend($1)", first)
        finally:
            await admin.close()
        second = await db.transaction(backend_pid)
        assert second != first
    finally:
        await db.dispose()
