"""Create the schema of a database (Alembic migrations replace this in the durability work)."""

from __future__ import annotations

import importlib

from baton.store.sql import tables
from baton.store.sql.database import Database

TABLE_MODULES = ("baton.store.sql.calendar",)
"""Modules that define tables on the shared metadata besides `tables`."""


async def create_schema(db: Database) -> None:
    """Create every table that does not exist yet."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    await db.transaction(lambda conn: tables.metadata.create_all(conn))
