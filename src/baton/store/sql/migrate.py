"""Schema migrations: Alembic revisions shipped in ``baton/store/migrations``, run by baton.

Alembic's API is synchronous; here it runs inside `Database.transaction`, on the sync
`Connection` that both backends hand to their work, so an upgrade is one transaction (on
SQLite too: it begins ``IMMEDIATE`` itself, since the stdlib driver would otherwise run DDL
outside any transaction) and concurrent upgrades of one database are serialised.

The revision lives in baton's own version table (`VERSION_TABLE`), so baton can share a
PostgreSQL database with an application that uses Alembic too.
"""

from __future__ import annotations

import importlib
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData

from baton.errors import ConfigError
from baton.store.sql import tables
from baton.store.sql.database import Database

__all__ = [
    "TABLE_MODULES",
    "VERSION_TABLE",
    "SchemaState",
    "Upgrade",
    "check_schema",
    "schema_state",
    "target_metadata",
    "upgrade",
]

VERSION_TABLE = "baton_alembic_version"
"""The table holding the database's schema revision."""

TABLE_MODULES = (
    "baton.store.sql.tables",
    "baton.store.sql.calendar",
    "baton.store.sql.locks",
    "baton.store.sql.context",
    "baton.store.sql.messages",
    "baton.store.sql.approvals",
    "baton.store.sql.tenancy",
    "baton.store.sql.feedback",
    "baton.store.sql.rate_limits",
    "baton.store.sql.traces",
    "baton.store.sql.logs",
    "baton.store.sql.alerts",
    "baton.store.sql.model_calls",
    "baton.store.sql.sessions",
    "baton.store.sql.result_cache",
)
"""Modules that define tables on the shared metadata."""

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"
"""The Alembic script directory (shipped inside the package)."""

# pg_advisory_xact_lock key: one upgrade at a time per PostgreSQL database.
_PG_LOCK_KEY = 0x6261746F6E  # "baton"


@dataclass(frozen=True, slots=True, kw_only=True)
class SchemaState:
    """Where a database's schema stands against this baton's migrations."""

    current: str | None
    """The database's revision; None when it has none (empty, or made without migrations)."""
    head: str
    """The revision this baton needs."""
    empty: bool
    """Neither baton's tables nor a revision: a new database, migrated on first start."""
    known: bool = True
    """Whether this baton's migrations include `current` (False: a newer baton's schema)."""
    pending: tuple[str, ...] = field(default=())
    """Revisions `baton db upgrade` would apply, oldest first."""

    @property
    def up_to_date(self) -> bool:
        """The schema is exactly the one this baton needs."""
        return self.current == self.head


@dataclass(frozen=True, slots=True, kw_only=True)
class Upgrade:
    """What `upgrade` did."""

    before: str | None
    """The revision before (None: the database was empty)."""
    after: str
    """The revision now (the head)."""

    @property
    def changed(self) -> bool:
        """Whether any migration ran."""
        return self.before != self.after


def target_metadata() -> MetaData:
    """The metadata with every table baton defines (what the head revision must equal)."""
    for name in TABLE_MODULES:
        importlib.import_module(name)
    return tables.metadata


async def schema_state(db: Database) -> SchemaState:
    """Read the database's revision and compare it with this baton's migrations."""
    # Reading the scripts is file I/O: do it where the transaction's blocking work runs.
    return await db.transaction(lambda conn: _read_state(conn, _script()))


async def check_schema(db: Database, state: SchemaState | None = None) -> None:
    """Refuse a database this baton cannot use as it is.

    Args:
        db: The database.
        state: Its state, when just read; read here otherwise.

    Raises:
        ConfigError: the schema is outdated (run ``baton db upgrade``), newer than this
            baton, missing, or present without a revision.
    """
    if state is None:
        state = await schema_state(db)
    problem = _problem(state, db.label, upgrading=False)
    if problem is not None:
        raise problem


async def upgrade(db: Database) -> Upgrade:
    """Migrate the database to the head revision, in one transaction; idempotent.

    Raises:
        ConfigError: the schema is newer than this baton, or has tables but no revision.
    """
    label = db.label

    def work(conn: Connection) -> Upgrade:
        script = _script()
        state = _read_state(conn, script)
        if state.up_to_date:  # no write lock needed: another program may hold it
            return Upgrade(before=state.current, after=state.head)
        _lock(conn)
        state = _read_state(conn, script)  # again: another process may have just upgraded it
        problem = _problem(state, label, upgrading=True)
        if problem is not None:
            raise problem
        if not state.up_to_date:
            config = _config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        return Upgrade(before=state.current, after=state.head)

    return await db.transaction(work)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    return config


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _read_state(conn: Connection, script: ScriptDirectory) -> SchemaState:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    heads = context.get_current_heads()
    head = script.get_current_head()
    assert head is not None, "baton ships at least one migration"
    current = "+".join(heads) if heads else None
    known_revisions = {rev.revision for rev in script.walk_revisions()}
    known = all(h in known_revisions for h in heads)
    pending: tuple[str, ...] = ()
    if known and current != head:
        lower = heads[0] if heads else "base"
        pending = tuple(reversed([rev.revision for rev in script.iterate_revisions(head, lower)]))
    ours = set(target_metadata().tables) & set(sa.inspect(conn).get_table_names())
    return SchemaState(
        current=current,
        head=head,
        empty=not heads and not ours,
        known=known,
        pending=pending,
    )


def _problem(state: SchemaState, label: str, *, upgrading: bool) -> ConfigError | None:
    other_db = "or point BATON_DATABASE_URL at another database"
    if state.current is None and not state.empty:
        return ConfigError(
            f"{label} has baton tables but no schema revision (no {VERSION_TABLE} table): "
            "it was made by a baton from before migrations, or by another program",
            hint=f"move it away (baton then creates a new one), {other_db}",
        )
    if not state.known:
        return ConfigError(
            f"the database schema is at revision {state.current}, which this baton does not "
            f"know (it needs {state.head}): {label} was upgraded by a newer baton",
            hint=f"upgrade baton, {other_db}",
        )
    if upgrading or state.up_to_date:
        return None
    if state.empty:
        return ConfigError(
            f"{label} has no baton schema yet",
            hint="run `baton db upgrade` to create it",
        )
    return ConfigError(
        f"the database schema is at revision {state.current}, this baton needs {state.head}; "
        f"run `baton db upgrade` ({label})",
        hint="`baton db upgrade` migrates it in place, keeping every execution",
    )


def _lock(conn: Connection) -> None:
    """Serialise upgrades: take the write lock now, before reading the revision."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        return
    dbapi = conn.connection.dbapi_connection
    # The stdlib driver begins a transaction only before DML, leaving DDL in autocommit.
    if isinstance(dbapi, sqlite3.Connection) and not dbapi.in_transaction:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
