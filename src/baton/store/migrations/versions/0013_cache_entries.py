"""Smart cache: ``cache_entries``, one row per cached step result.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``cache_entries`` and its indexes by workspace and agent, and by expiry."""
    op.create_table(
        "cache_entries",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("output", _JSON, nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("last_hit_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("key", name="pk_cache_entries"),
    )
    op.create_index(
        "ix_cache_entries_workspace_id_agent", "cache_entries", ["workspace_id", "agent"]
    )
    op.create_index("ix_cache_entries_expires_at", "cache_entries", ["expires_at"])


def downgrade() -> None:
    """Drop ``cache_entries`` (cached results are lost; steps simply run again)."""
    op.drop_index("ix_cache_entries_expires_at", table_name="cache_entries")
    op.drop_index("ix_cache_entries_workspace_id_agent", table_name="cache_entries")
    op.drop_table("cache_entries")
