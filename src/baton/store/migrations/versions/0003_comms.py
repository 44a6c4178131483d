"""Agent communication: the shared context store and the agent messages.

Revision ID: 0003
Revises: 0002
Create Date: 2026-01-20

Written out in full rather than importing ``baton.store.sql.context`` / ``.messages``: a
revision must keep creating the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``shared_context`` and ``agent_messages``."""
    op.create_table(
        "shared_context",
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("secret", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("updated_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("workspace_id", "execution_id", "key", name="pk_shared_context"),
    )
    op.create_index("ix_shared_context_expires_at", "shared_context", ["expires_at"])
    op.create_table(
        "agent_messages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("channel", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("sender", sa.String(200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("reply_to", sa.String(40), nullable=True),
        sa.Column("sent_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_agent_messages"),
        sa.UniqueConstraint("execution_id", "channel", "seq", name="uq_agent_messages_channel_seq"),
    )


def downgrade() -> None:
    """Drop both tables (and so every shared context entry and message)."""
    op.drop_table("agent_messages")
    op.drop_index("ix_shared_context_expires_at", table_name="shared_context")
    op.drop_table("shared_context")
