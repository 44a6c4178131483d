"""Logs: an index for searches filtered by level only.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

``ix_logs_workspace_id_level_id`` on ``(workspace_id, level, id)``: a search with a level
filter and no words (``baton logs search --level error``) reads, for each level at or above
the filter, the workspace's newest records of that level from it, instead of walking the
workspace's records newest first until enough match (every record of the workspace when
none does). See ``baton.store.sql.logs``.

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the index (the same statement on SQLite and PostgreSQL)."""
    op.create_index("ix_logs_workspace_id_level_id", "logs", ["workspace_id", "level", "id"])


def downgrade() -> None:
    """Drop the index."""
    op.drop_index("ix_logs_workspace_id_level_id", table_name="logs")
