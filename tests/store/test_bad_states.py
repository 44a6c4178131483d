"""A database in a bad state: one clear paragraph and exit 2 from the CLI, and nothing half-written.

Corrupt file, lock held by another program, PostgreSQL down or refusing the password, a
schema from a newer baton, a full disk. Each goes through the real command line (in process,
with typer's CliRunner) and then checks what the database holds.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from baton.cli import app
from baton.errors import ConfigError, StoreError
from baton.events import ExecutionStatus, StepStatus, utcnow
from baton.store import ExecutionRecord
from baton.store.sql import database as database_module
from baton.store.sql.database import open_database, sqlite_url
from baton.store.sql.errors import Target, translate
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.migrate import VERSION_TABLE
from baton.store.sql.schema import create_schema

if TYPE_CHECKING:
    from support.postgres import PostgresServer

PLUGIN = """
from baton.agents import agent


@agent(name="t.echo", description="Return the text it is given.")
async def echo(text: str) -> str:
    return text


@agent(name="t.big", description="Return a long text.")
async def big(size: int) -> str:
    return "x" * size
"""

BIG_PLAN = """
steps:
  - {id: small, agent: t.echo, inputs: {text: hello}}
  - {id: big, agent: t.big, inputs: {size: 400000}, depends_on: [small]}
  - {id: last, agent: t.echo, inputs: {text: done}, depends_on: [big]}
"""


class Baton:
    """The CLI against one private data folder (and optionally another database URL)."""

    def __init__(self, tmp_path: Path) -> None:
        self.data = tmp_path / "data"
        self.db_file = self.data / "baton.db"
        workspace, plugins = tmp_path / "ws", tmp_path / "plugins"
        workspace.mkdir()
        plugins.mkdir()
        (plugins / "testagents.py").write_text(PLUGIN)
        (workspace / "notes.txt").write_text("Baton plans. Agents run steps.\n")
        self.plan = tmp_path / "big.yaml"
        self.plan.write_text(BIG_PLAN)
        self.env = {
            "BATON_DATA_DIR": str(self.data),
            "BATON_WORKSPACE": str(workspace),
            "BATON_PLUGINS_DIR": str(plugins),
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "TERM": "dumb",
        }

    def __call__(self, *args: str, **env: str) -> Result:
        return CliRunner().invoke(app, list(args), env={**self.env, **env})

    def ok(self, *args: str, **env: str) -> Result:
        result = self(*args, **env)
        assert result.exit_code == 0, result.output
        return result


def refused(result: Result, *needles: str) -> str:
    """Exit 2, one short message with a hint, no traceback; returns the message."""
    output = result.output
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    # The last thing on stderr: ``error: ...`` and ``  hint: ...``, one line each.
    _, sep, message = result.stderr.partition("error: ")
    assert sep, output
    assert message.count("\n") == 2, output
    assert "\n  hint: " in message, output
    for needle in needles:
        assert needle in message, output
    return output


@pytest.fixture
def baton(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Baton:
    for name in list(os.environ):
        if name.startswith("BATON_"):
            monkeypatch.delenv(name)
    return Baton(tmp_path)


COMMANDS = [
    ("executions", "list"),
    ("db", "status"),
    ("db", "upgrade"),
    ("run", "--yes", "read notes.txt and summarize it"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: "-".join(c[:2]))
def test_a_corrupt_database_file(baton: Baton, command: tuple[str, ...]) -> None:
    baton.data.mkdir()
    garbage = os.urandom(8192)
    baton.db_file.write_bytes(garbage)

    refused(
        baton(*command),
        f"the database file {baton.db_file} is not a SQLite database or is corrupt",
        "restore it from a backup or move it away, then run the command again",
    )
    assert baton.db_file.read_bytes() == garbage

    baton.db_file.rename(baton.data / "baton.db.broken")
    baton.ok("executions", "list")


@pytest.mark.parametrize("journal", ["wal", "delete"])
@pytest.mark.parametrize("command", [("db", "upgrade"), ("db", "status")], ids="-".join)
def test_a_database_locked_by_another_program(
    baton: Baton, journal: str, command: tuple[str, ...]
) -> None:
    # Another program made the file and holds a transaction open on it. In WAL mode that
    # blocks writers only (the upgrade); in rollback-journal mode readers too.
    baton.data.mkdir()
    holder = sqlite3.connect(baton.db_file, isolation_level=None)
    try:
        holder.execute(f"PRAGMA journal_mode={journal}")
        holder.execute("CREATE TABLE other (x INTEGER)")
        holder.execute("BEGIN EXCLUSIVE")
        result = baton(*command, BATON_DATABASE_BUSY_TIMEOUT_S="0.2")
        if command == ("db", "status") and journal == "wal":
            assert result.exit_code == 0, result.output  # reading is not blocked
            assert "empty" in result.output
        else:
            refused(
                result,
                f"the database file {baton.db_file} is locked by another program",
                "(baton waited 0.2 s for it); nothing was changed",
                "BATON_DATABASE_BUSY_TIMEOUT_S",
            )
        holder.execute("ROLLBACK")
        assert holder.execute("SELECT name FROM sqlite_master").fetchall() == [("other",)]
    finally:
        holder.close()

    assert "from (empty) to " in baton.ok("db", "upgrade").output


@pytest.mark.anyio
async def test_a_locked_database_rejects_a_write_whole(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "baton.db")
    db = open_database(url, busy_timeout_s=0.1)
    await create_schema(db)
    store = SqlExecutionStore(db)
    holder = sqlite3.connect(tmp_path / "baton.db", isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreError, match="is locked by another program") as locked:
            await store.create_execution(_execution("ex1"), [])
        assert locked.value.retryable
        holder.execute("ROLLBACK")
        assert await store.list_executions() == []

        await store.create_execution(_execution("ex1"), [])
        assert [e.id for e in await store.list_executions()] == ["ex1"]
    finally:
        holder.close()
        await store.close()


def test_a_database_file_that_cannot_be_opened(baton: Baton, tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder" / "baton.db"

    refused(
        baton("executions", "list", BATON_DATABASE_URL=sqlite_url(missing)),
        f"the database file {missing} cannot be opened",
        "check that the file and its folder exist",
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port  # closed again: nothing listens there


@pytest.mark.parametrize("command", COMMANDS[:3], ids=lambda c: "-".join(c[:2]))
def test_postgresql_down(baton: Baton, command: tuple[str, ...]) -> None:
    port = _free_port()
    url = f"postgresql://baton:s3cret-pw@127.0.0.1:{port}/baton"

    output = refused(
        baton(*command, BATON_DATABASE_URL=url),
        f"cannot connect to the PostgreSQL server at 127.0.0.1:{port}: connection refused",
        "start the server",
    )
    assert "s3cret-pw" not in output


def test_a_postgresql_driver_that_is_not_installed(
    baton: Baton, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "asyncpg", None)  # import asyncpg now fails

    refused(
        baton("executions", "list", BATON_DATABASE_URL="postgresql://baton:pw@127.0.0.1/baton"),
        "the PostgreSQL driver of BATON_DATABASE_URL (postgresql+asyncpg) is not installed "
        "(no module 'asyncpg')",
        "pip install asyncpg",
    )


@pytest.mark.postgres
def test_postgresql_wrong_password_and_missing_database(
    baton: Baton, postgres_server: PostgresServer
) -> None:
    right = make_url(postgres_server.url())
    wrong = right.set(password="not-the-password").render_as_string(hide_password=False)

    output = refused(
        baton("executions", "list", BATON_DATABASE_URL=wrong),
        f"the PostgreSQL server at 127.0.0.1:{right.port} refused user 'baton': "
        "wrong password or user name",
        "fix the user and password in BATON_DATABASE_URL",
    )
    assert "not-the-password" not in output

    missing = right.set(database="no_such_db").render_as_string(hide_password=False)
    refused(
        baton("db", "upgrade", BATON_DATABASE_URL=missing),
        "the database 'no_such_db' does not exist",
        "createdb no_such_db",
    )


def test_a_schema_from_a_newer_baton(baton: Baton) -> None:
    baton.ok("db", "upgrade")
    with sqlite3.connect(baton.db_file) as conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    conn.close()

    for command in COMMANDS[:1] + COMMANDS[2:]:
        refused(
            baton(*command),
            "the database schema is at revision 9999, which this baton does not know",
            "was upgraded by a newer baton",
            "upgrade baton, or point BATON_DATABASE_URL at another database",
        )
    assert "upgraded by a newer baton" in baton.ok("db", "status").output
    with sqlite3.connect(baton.db_file) as conn:
        assert conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall() == [("9999",)]
    conn.close()


def test_a_full_disk_mid_run(baton: Baton, monkeypatch: pytest.MonkeyPatch) -> None:
    baton.ok("db", "upgrade")
    real_pragmas = database_module.sqlite_pragmas

    def nearly_full_disk(dbapi_conn: Any, record: Any) -> None:
        # Room for a few pages more: the big step's output (400 kB) will not fit.
        real_pragmas(dbapi_conn, record)
        pages = dbapi_conn.execute("PRAGMA page_count").fetchone()[0]
        dbapi_conn.execute(f"PRAGMA max_page_count = {pages + 16}")

    with monkeypatch.context() as full:
        full.setattr(database_module, "sqlite_pragmas", nearly_full_disk)
        output = refused(
            baton("run", "--yes", "--plan", str(baton.plan)),
            f"the disk holding the database file {baton.db_file} is full",
            "the change being saved was rolled back",
            "free space on that disk",
            "baton resume ID",
        )
    ex_id = output.split("execution ")[1].split()[0]

    # What was committed before is intact; the batch with the big output is not there at all.
    shown = _json(baton, "executions", "show", ex_id)
    steps = {s["step_id"]: s for s in shown["steps"]}
    assert steps["small"]["status"] == StepStatus.SUCCEEDED
    assert steps["small"]["output"] == {"result": "hello"}
    assert steps["big"]["status"] != StepStatus.SUCCEEDED
    assert steps["big"]["output"] is None
    events = _json(baton, "executions", "events", ex_id)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    done = [(e["step_id"], e["kind"]) for e in events if e["kind"] == "step_succeeded"]
    assert done == [("small", "step_succeeded")]

    # With space again, the execution carries on from where it stopped.
    baton.ok("resume", ex_id)
    shown = _json(baton, "executions", "show", ex_id)
    assert shown["status"] == ExecutionStatus.SUCCEEDED
    outputs = {s["step_id"]: s["output"] for s in shown["steps"]}
    assert len(outputs["big"]["result"]) == 400_000
    assert outputs["last"] == {"result": "done"}


def _json(baton: Baton, *args: str) -> Any:
    return json.loads(baton.ok(*args, "--json").stdout)


def _execution(ex_id: str) -> ExecutionRecord:
    return ExecutionRecord(
        id=ex_id,
        name="n",
        request=None,
        plan={"steps": []},
        status=ExecutionStatus.PENDING,
        created_at=utcnow(),
    )


SQLITE = Target.of(make_url("sqlite:////data/baton.db"))
POSTGRES = Target.of(make_url("postgresql://baton:pw@db.example:6543/work"))


def _sqlite_error(code: int, message: str) -> sqlite3.Error:
    exc = sqlite3.OperationalError(message)
    exc.sqlite_errorcode = code  # as the driver sets it (an extended code, e.g. IOERR_READ)
    return exc


class _PgError(Exception):
    def __init__(self, sqlstate: str, message: str) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("exc", "target", "kind", "retryable", "needle"),
    [
        (socket.gaierror(-2, "Name or service not known"), POSTGRES, ConfigError, False,
         "the PostgreSQL host 'db.example' cannot be found"),
        (TimeoutError(), POSTGRES, StoreError, True, "db.example:6543: it did not answer in time"),
        (_PgError("53100", "could not extend file"), POSTGRES, StoreError, False,
         "the disk of the PostgreSQL server at db.example:6543 is full"),
        (_PgError("57P01", "terminating connection"), POSTGRES, StoreError, True,
         "is unavailable: terminating connection"),
        (_PgError("42501", "permission denied for schema public"), POSTGRES, ConfigError, False,
         "lacks a permission baton needs in 'work'"),
        (_sqlite_error(8, "attempt to write a readonly database"), SQLITE, ConfigError, False,
         "the database file /data/baton.db is read-only"),
        (_sqlite_error(10 | 4 << 8, "disk I/O error"), SQLITE, StoreError, False,
         "the disk holding the database file /data/baton.db failed to read or write"),
        (_sqlite_error(13, "database or disk is full"), SQLITE, StoreError, False,
         "the disk holding the database file /data/baton.db is full"),
        (sqlite3.OperationalError("unable to open database file"), SQLITE, None, False, ""),
    ],
)  # fmt: skip
def test_translation_of_failures_not_staged_above(
    exc: BaseException, target: Target, kind: type[Exception] | None, retryable: bool, needle: str
) -> None:
    translated = translate(exc, target)
    if kind is None:
        assert translated is None  # no result code given: not recognised, passed through
        return
    assert isinstance(translated, kind)
    assert needle in translated.message
    assert bool(getattr(translated, "retryable", False)) is retryable
    assert "pw" not in str(translated)


@pytest.mark.parametrize(
    "exc",
    [
        sqlite3.IntegrityError("UNIQUE constraint failed"),
        _PgError("23505", "duplicate key value violates unique constraint"),
        ConnectionRefusedError(111, "refused"),  # SQLite has no server: not a cause there
        ValueError("not a driver error"),
    ],
)
def test_other_failures_pass_through(exc: BaseException) -> None:
    target = SQLITE if isinstance(exc, ConnectionRefusedError) else POSTGRES
    assert translate(exc, target) is None
