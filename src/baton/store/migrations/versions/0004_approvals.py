"""Human approval gates: the ``pending_approvals`` table.

Revision ID: 0004
Revises: 0003
Create Date: 2026-01-27

Written out in full rather than importing ``baton.store.sql.approvals``: a revision must keep
creating the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)
_JSON = sa.JSON().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    """Create ``pending_approvals``."""
    op.create_table(
        "pending_approvals",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(200), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("plan_hash", sa.String(64), nullable=False),
        sa.Column("inputs_hash", sa.String(64), nullable=False),
        sa.Column("inputs", _JSON, nullable=False),
        sa.Column("impact", _JSON, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=False),
        sa.Column("decided_at", _TIME, nullable=True),
        sa.Column("decided_by", sa.String(200), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("edited_inputs", _JSON, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pending_approvals"),
    )
    op.create_index("ix_pending_approvals_execution_id", "pending_approvals", ["execution_id"])
    op.create_index("ix_pending_approvals_status", "pending_approvals", ["status"])


def downgrade() -> None:
    """Drop ``pending_approvals`` (and so every approval request)."""
    op.drop_index("ix_pending_approvals_status", table_name="pending_approvals")
    op.drop_index("ix_pending_approvals_execution_id", table_name="pending_approvals")
    op.drop_table("pending_approvals")
