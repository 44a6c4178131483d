"""Traces: ``traces``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

One row per finished span of an execution (see ``baton.store.traces``): times in integer
nanoseconds since the Unix epoch, attributes and events as JSON text.

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``traces`` and its index."""
    op.create_table(
        "traces",
        sa.Column("trace_id", sa.String(32), nullable=False),
        sa.Column("span_id", sa.String(16), nullable=False),
        sa.Column("parent_span_id", sa.String(16), nullable=True),
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("start_ns", sa.BigInteger(), nullable=False),
        sa.Column("end_ns", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("status_message", sa.Text(), nullable=True),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("events", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("trace_id", "span_id", name="pk_traces"),
    )
    op.create_index(
        "ix_traces_execution_id", "traces", ["execution_id", "workspace_id", "start_ns"]
    )


def downgrade() -> None:
    """Drop ``traces`` (and so every kept span)."""
    op.drop_index("ix_traces_execution_id", table_name="traces")
    op.drop_table("traces")
