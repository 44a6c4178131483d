"""Logs: ``logs`` and its full-text index.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

The full-text index depends on the database: on SQLite an FTS5 table ``logs_fts`` over the
messages (external content) with triggers that keep it in step; on PostgreSQL a GIN index on
the messages' ``tsvector``. See ``baton.store.sql.logs`` for how searches use them.

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

_SQLITE_SEARCH = (
    "CREATE VIRTUAL TABLE logs_fts USING fts5("
    "message, content='logs', content_rowid='id', tokenize='unicode61 remove_diacritics 0')",
    "CREATE TRIGGER logs_fts_insert AFTER INSERT ON logs BEGIN "
    "INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message); END",
    "CREATE TRIGGER logs_fts_delete AFTER DELETE ON logs BEGIN "
    "INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.id, old.message); END",
    "CREATE TRIGGER logs_fts_update AFTER UPDATE OF message ON logs BEGIN "
    "INSERT INTO logs_fts(logs_fts, rowid, message) VALUES ('delete', old.id, old.message); "
    "INSERT INTO logs_fts(rowid, message) VALUES (new.id, new.message); END",
)

_POSTGRES_SEARCH = (
    # Stored, so that checking a candidate row (a phrase, a recheck) reads its words
    # instead of splitting its message again.
    "ALTER TABLE logs ADD COLUMN message_tsv tsvector GENERATED ALWAYS AS ("
    "to_tsvector('simple'::regconfig, regexp_replace(message, '[^[:alnum:]]+', ' ', 'g'))"
    ") STORED",
    "CREATE INDEX ix_logs_message_tsv ON logs USING gin (message_tsv)",
)


def upgrade() -> None:
    """Create ``logs``, its indexes and the full-text index of its messages."""
    op.create_table(
        "logs",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("logger", sa.String(200), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("execution_id", sa.String(40), nullable=True),
        sa.Column("step_id", sa.String(64), nullable=True),
        sa.Column("trace_id", sa.String(32), nullable=True),
        sa.Column("span_id", sa.String(16), nullable=True),
        sa.Column("extra", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_logs"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_logs_workspace_id_id", "logs", ["workspace_id", "id"])
    op.create_index("ix_logs_execution_id_id", "logs", ["execution_id", "id"])
    op.create_index("ix_logs_at", "logs", ["at"])
    dialect = op.get_bind().dialect.name
    for statement in _SQLITE_SEARCH if dialect == "sqlite" else _POSTGRES_SEARCH:
        op.execute(statement)


def downgrade() -> None:
    """Drop ``logs`` and its full-text index (and so every stored log record)."""
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("logs_fts_update", "logs_fts_delete", "logs_fts_insert"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS logs_fts")
    else:
        op.drop_index("ix_logs_message_tsv", table_name="logs")
    op.drop_index("ix_logs_at", table_name="logs")
    op.drop_index("ix_logs_execution_id_id", table_name="logs")
    op.drop_index("ix_logs_workspace_id_id", table_name="logs")
    op.drop_table("logs")
