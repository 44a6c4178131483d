"""Alembic migrations: the head equals the tables' metadata; bad schema states are refused.

Every test runs on SQLite and on the PostgreSQL test server (`database_url` / `database`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection

from baton.errors import ConfigError
from baton.store.sql import migrate
from baton.store.sql.database import Database, open_database
from baton.store.sql.migrate import VERSION_TABLE, SchemaState, Upgrade, target_metadata
from baton.store.sql.schema import create_schema

pytestmark = pytest.mark.anyio

HEAD = migrate._script().get_current_head() or ""  # pyright: ignore[reportPrivateUsage]
NEXT = "9999"  # a revision this baton does not ship
REVISIONS = tuple(r.revision for r in reversed(list(migrate._script().walk_revisions())))  # pyright: ignore[reportPrivateUsage]

EXTRA_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("test_extra", sa.Column("id", sa.Integer, primary_key=True))
    op.add_column("executions", sa.Column("test_note", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("executions", "test_note")
    op.drop_table("test_extra")
"""


def next_baton_migrations(tmp_path: Path) -> Path:
    """baton's migrations plus a revision 0002: what a later baton would ship."""
    scripts = tmp_path / "next-migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_extra.py").write_text(EXTRA_REVISION.replace("{head}", HEAD))
    return scripts


def table_names(conn: Connection) -> set[str]:
    return set(sa.inspect(conn).get_table_names())


# What the migrations make per dialect beyond the metadata (the logs' full-text index).
UNMANAGED: set[str] = target_metadata().info.get("unmanaged", set())


async def baton_tables(db: Database) -> set[str]:
    return await db.transaction(table_names) & set(target_metadata().tables)


@pytest.fixture
async def empty_db(database_url: str) -> Any:
    db = open_database(database_url)
    try:
        yield db
    finally:
        await db.dispose()


async def test_a_new_database_is_migrated_to_head(empty_db: Database) -> None:
    before = await migrate.schema_state(empty_db)
    assert before == SchemaState(current=None, head=HEAD, empty=True, pending=REVISIONS)

    await create_schema(empty_db)

    after = await migrate.schema_state(empty_db)
    assert after == SchemaState(current=HEAD, head=HEAD, empty=False)
    assert after.up_to_date
    made = await empty_db.transaction(table_names) - UNMANAGED
    assert made == {*target_metadata().tables, VERSION_TABLE}


async def test_the_migrated_schema_equals_the_metadata(database: Database) -> None:
    def differences(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(
            conn,
            opts={
                "compare_type": True,
                "version_table": VERSION_TABLE,
                "include_name": lambda name, _type, _parent: name not in UNMANAGED,
            },
        )
        return compare_metadata(context, target_metadata())

    assert await database.transaction(differences) == []


async def test_the_head_has_the_lease_columns_and_the_event_key(database: Database) -> None:
    def shape(conn: Connection) -> tuple[set[str], list[str]]:
        inspector = sa.inspect(conn)
        columns = {c["name"] for c in inspector.get_columns("executions")}
        key = inspector.get_pk_constraint("execution_events")["constrained_columns"]
        return columns, key

    columns, key = await database.transaction(shape)
    assert {"lease_owner", "lease_expires_at"} <= columns
    assert key == ["execution_id", "seq"]


async def test_upgrade_is_idempotent(database: Database) -> None:
    done = await migrate.upgrade(database)

    assert done == Upgrade(before=HEAD, after=HEAD)
    assert not done.changed
    await create_schema(database)  # still accepted


async def test_an_outdated_database_is_refused_until_upgraded(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    await database.transaction(
        lambda conn: conn.execute(
            sa.text(
                "INSERT INTO executions (id, workspace_id, name, plan, status, created_at, "
                "cancel_requested) VALUES ('ex1', 'default', 'kept', '{}', 'succeeded', "
                "CURRENT_TIMESTAMP, false)"
            )
        )
    )
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", next_baton_migrations(tmp_path))

    with pytest.raises(ConfigError) as refused:
        await create_schema(database)
    message = str(refused.value)
    assert f"the database schema is at revision {HEAD}, this baton needs {NEXT}" in message
    assert "run `baton db upgrade`" in message
    state = await migrate.schema_state(database)
    assert (state.current, state.known, state.pending) == (HEAD, True, (NEXT,))

    assert await migrate.upgrade(database) == Upgrade(before=HEAD, after=NEXT)

    await create_schema(database)
    assert "test_extra" in await database.transaction(table_names)
    names = await database.transaction(
        lambda conn: conn.execute(sa.text("SELECT name, test_note FROM executions")).all()
    )
    assert [tuple(r) for r in names] == [("kept", None)]


async def test_a_database_of_a_newer_baton_is_refused(
    database: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as newer_baton:
        newer_baton.setattr(migrate, "MIGRATIONS_DIR", next_baton_migrations(tmp_path))
        await migrate.upgrade(database)

    state = await migrate.schema_state(database)
    assert (state.current, state.head, state.known) == (NEXT, HEAD, False)
    for attempt in (create_schema, migrate.check_schema, migrate.upgrade):
        with pytest.raises(ConfigError) as refused:
            await attempt(database)
        message = str(refused.value)
        assert f"at revision {NEXT}, which this baton does not know" in message
        assert "was upgraded by a newer baton" in message
        assert "upgrade baton, or point BATON_DATABASE_URL at another database" in message
    assert (await migrate.schema_state(database)).current == NEXT


async def test_baton_tables_without_a_revision_are_refused(empty_db: Database) -> None:
    await empty_db.transaction(lambda conn: target_metadata().create_all(conn))

    state = await migrate.schema_state(empty_db)
    assert (state.current, state.empty) == (None, False)
    for attempt in (create_schema, migrate.upgrade):
        with pytest.raises(
            ConfigError, match=f"baton tables but no schema revision.*{VERSION_TABLE}"
        ):
            await attempt(empty_db)
    assert VERSION_TABLE not in await empty_db.transaction(table_names)


async def test_a_failed_upgrade_leaves_the_database_as_it_was(empty_db: Database) -> None:
    # Another program's index takes a name the initial revision creates late in its run.
    def clash(conn: Connection) -> None:
        conn.execute(sa.text("CREATE TABLE other (x INTEGER)"))
        conn.execute(sa.text("CREATE INDEX ix_calendar_events_workspace_start ON other (x)"))

    await empty_db.transaction(clash)

    with pytest.raises(sa.exc.SQLAlchemyError, match="ix_calendar_events_workspace_start"):
        await migrate.upgrade(empty_db)

    assert await empty_db.transaction(table_names) == {"other"}
    assert (await migrate.schema_state(empty_db)).empty


async def test_racing_first_starts_migrate_once(database_url: str) -> None:
    dbs = [open_database(database_url) for _ in range(3)]
    try:
        async with anyio.create_task_group() as tg:
            for db in dbs:
                tg.start_soon(create_schema, db)
        for db in dbs:
            assert (await migrate.schema_state(db)).up_to_date
        versions = await dbs[0].transaction(
            lambda conn: conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).all()
        )
        assert [tuple(v) for v in versions] == [(HEAD,)]
    finally:
        for db in dbs:
            await db.dispose()
