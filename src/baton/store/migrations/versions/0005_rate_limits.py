"""Rate limits shared by processes: the ``rate_limit_admissions`` log.

Revision ID: 0005
Revises: 0004
Create Date: 2026-02-03

Written out in full rather than importing ``baton.store.sql.rate_limits``: a revision must keep
creating the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``rate_limit_admissions``."""
    op.create_table(
        "rate_limit_admissions",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rate_limit_admissions"),
    )
    op.create_index("ix_rate_limit_admissions_key_at", "rate_limit_admissions", ["key", "at"])


def downgrade() -> None:
    """Drop ``rate_limit_admissions`` (quotas start afresh)."""
    op.drop_index("ix_rate_limit_admissions_key_at", table_name="rate_limit_admissions")
    op.drop_table("rate_limit_admissions")
