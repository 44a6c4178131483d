"""Opening a new SQLite file while another connection holds a lock on it waits, as the busy
timeout promises, instead of failing at once: switching to WAL ignores the busy timeout."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from baton.store.sql.database import open_database, sqlite_url

pytestmark = pytest.mark.anyio


async def test_switching_to_wal_waits_for_another_connections_lock(tmp_path: Path) -> None:
    path = tmp_path / "baton.db"
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("CREATE TABLE other (x)")
    released = threading.Timer(0.3, lambda: holder.execute("COMMIT"))
    released.start()
    db = open_database(sqlite_url(path))
    try:
        mode = await db.transaction(
            lambda conn: conn.exec_driver_sql("PRAGMA journal_mode").scalar_one()
        )
    finally:
        released.join()
        holder.close()
        await db.dispose()
    assert mode == "wal"
