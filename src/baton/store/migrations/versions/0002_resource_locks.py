"""Resource locks: one row per resource ever locked (owner, fencing token, lease expiry).

Revision ID: 0002
Revises: 0001
Create Date: 2026-01-20

Written out in full rather than importing ``baton.store.sql.locks``: a revision must keep
creating the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``resource_locks``."""
    op.create_table(
        "resource_locks",
        sa.Column("resource", sa.String(512), nullable=False),
        sa.Column("owner", sa.String(200), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("resource", name="pk_resource_locks"),
    )


def downgrade() -> None:
    """Drop ``resource_locks`` (every lock is released; tokens start again at 1)."""
    op.drop_table("resource_locks")
