"""Model calls: ``model_calls``, one row per call to a language model.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    """Create ``model_calls`` and its index by execution."""
    op.create_table(
        "model_calls",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
            autoincrement=True,
        ),
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("model", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("latency_s", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("error", sa.String(200), nullable=True),
        sa.Column("at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_model_calls"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_model_calls_execution_id_id", "model_calls", ["execution_id", "id"])


def downgrade() -> None:
    """Drop ``model_calls`` (the record of model calls is lost)."""
    op.drop_index("ix_model_calls_execution_id_id", table_name="model_calls")
    op.drop_table("model_calls")
