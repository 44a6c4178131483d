"""``baton db upgrade|status``, and every other command refusing a schema it cannot use."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from baton.store.sql import migrate
from baton.store.sql.migrate import VERSION_TABLE

HEAD = migrate._script().get_current_head() or ""  # pyright: ignore[reportPrivateUsage]
REVISIONS = [r.revision for r in reversed(list(migrate._script().walk_revisions()))]  # pyright: ignore[reportPrivateUsage]
NEXT = "9999"

if TYPE_CHECKING:
    from tests.cli.conftest import CliHarness as Cli

NEXT_REVISION = """
import sqlalchemy as sa
from alembic import op

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("test_extra", sa.Column("id", sa.Integer, primary_key=True))


def downgrade() -> None:
    op.drop_table("test_extra")
"""


@pytest.fixture
def db_file(baton_env: dict[str, str]) -> Path:
    return Path(baton_env["BATON_DATA_DIR"]) / "baton.db"


@pytest.fixture
def next_baton(tmp_path: Path) -> Path:
    """The migrations of a later baton: this one's plus revision 0002."""
    scripts = tmp_path / "next-migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_extra.py").write_text(NEXT_REVISION.replace("{head}", HEAD))
    return scripts


def version_in(db_file: Path) -> list[tuple[str]]:
    conn = sqlite3.connect(db_file)
    try:
        return conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    finally:
        conn.close()


def test_status_of_a_new_database_changes_nothing(cli: Cli, db_file: Path) -> None:
    assert cli.json("db", "status", "--json") == {
        "database": f"the database file {db_file}",
        "current": None,
        "head": HEAD,
        "up_to_date": False,
        "empty": True,
        "known": True,
        "pending": REVISIONS,
    }
    text = cli("db", "status")
    assert text.exit_code == 0, text.output
    assert "empty: baton creates the schema when it first opens it" in text.output
    assert cli.json("db", "status", "--json")["empty"]


def test_upgrade_reports_the_revisions_and_is_idempotent(cli: Cli, db_file: Path) -> None:
    first = cli("db", "upgrade")
    assert first.exit_code == 0, first.output
    assert f"upgraded the database schema from (empty) to {HEAD} (the database file {db_file})" in (
        first.output
    )

    again = cli("db", "upgrade")
    assert again.exit_code == 0, again.output
    assert f"the database schema is up to date at {HEAD}" in again.output
    assert version_in(db_file) == [(HEAD,)]
    status = cli("db", "status")
    assert "up to date" in status.output
    assert cli.json("db", "status", "--json")["up_to_date"] is True


def test_a_fresh_machine_needs_no_step(cli: Cli) -> None:
    run = cli("run", "--yes", "read notes.txt and summarize it")
    assert run.exit_code == 0, run.output

    assert cli.json("db", "status", "--json")["current"] == HEAD
    assert len(cli.json("executions", "list", "--json")) == 1


def test_an_outdated_schema_is_refused_until_db_upgrade(
    cli: Cli, db_file: Path, next_baton: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ran = cli("run", "--yes", "read notes.txt and summarize it")
    assert ran.exit_code == 0, ran.output
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", next_baton)

    for command in (("executions", "list"), ("agents", "list"), ("run", "-y", "read notes.txt")):
        refused = cli(*command)
        assert refused.exit_code == 2, refused.output
        assert "Traceback" not in refused.output
        assert (
            f"the database schema is at revision {HEAD}, this baton needs {NEXT}; "
            "run `baton db upgrade`" in refused.stderr
        )
    status = cli.json("db", "status", "--json")
    assert (status["current"], status["head"], status["pending"]) == (HEAD, NEXT, [NEXT])
    assert f"outdated: run `baton db upgrade` (applies {NEXT})" in cli("db", "status").output

    upgraded = cli("db", "upgrade")
    assert upgraded.exit_code == 0, upgraded.output
    assert f"upgraded the database schema from {HEAD} to {NEXT}" in upgraded.output
    assert version_in(db_file) == [(NEXT,)]
    assert len(cli.json("executions", "list", "--json")) == 1  # kept across the upgrade


def test_a_newer_schema_is_reported_and_refused(cli: Cli, db_file: Path) -> None:
    assert cli("db", "upgrade").exit_code == 0
    conn = sqlite3.connect(db_file)
    with conn:
        conn.execute(f"UPDATE {VERSION_TABLE} SET version_num = 'f00dcafe'")
    conn.close()

    status = cli.json("db", "status", "--json")
    assert (status["current"], status["known"], status["up_to_date"]) == ("f00dcafe", False, False)
    assert "upgraded by a newer baton: upgrade baton" in cli("db", "status").output
    for command in (("executions", "list"), ("db", "upgrade")):
        refused = cli(*command)
        assert refused.exit_code == 2, refused.output
        assert "was upgraded by a newer baton" in refused.stderr
        assert "hint: upgrade baton, or point BATON_DATABASE_URL" in refused.stderr
    assert version_in(db_file) == [("f00dcafe",)]


def test_tables_without_a_revision_are_reported(cli: Cli, db_file: Path) -> None:
    assert cli("db", "upgrade").exit_code == 0
    conn = sqlite3.connect(db_file)
    with conn:
        conn.execute(f"DROP TABLE {VERSION_TABLE}")
    conn.close()

    assert "baton tables without a revision" in cli("db", "status").output
    refused = cli("executions", "list")
    assert refused.exit_code == 2, refused.output
    assert "has baton tables but no schema revision" in refused.stderr
