"""Make a database ready for this baton: migrate a new one, refuse one it cannot use."""

from __future__ import annotations

from baton.store.sql import migrate
from baton.store.sql.database import Database


async def create_schema(db: Database) -> None:
    """Create the schema of an empty database; otherwise check it is the one this baton needs.

    A new database is migrated to the head revision, so a fresh machine needs no step. An
    existing one is never changed here: upgrading is ``baton db upgrade``, on purpose.

    Raises:
        ConfigError: the schema is outdated, newer than this baton, or has no revision.
    """
    state = await migrate.schema_state(db)
    if state.empty:
        await migrate.upgrade(db)  # re-checks under the write lock: a racing start is fine
    else:
        await migrate.check_schema(db, state)
