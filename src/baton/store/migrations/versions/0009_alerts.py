"""Alerts: ``alerts``, and the partial indexes the alert rules read through.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_FIRING = sa.text("resolved_at IS NULL")
_ERROR_EVENT = sa.text("kind IN ('step_failed', 'step_retrying')")
_FINISHED = sa.text("finished_at IS NOT NULL")


def upgrade() -> None:
    """Create ``alerts`` and the partial indexes on execution events and executions."""
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("labels", _JSON, nullable=False),
        sa.Column("fired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index(
        "uq_alerts_firing",
        "alerts",
        ["rule", "key"],
        unique=True,
        sqlite_where=_FIRING,
        postgresql_where=_FIRING,
    )
    op.create_index("ix_alerts_fired_at", "alerts", ["fired_at"])
    op.create_index("ix_alerts_resolved_at", "alerts", ["resolved_at"])
    op.create_index(
        "ix_execution_events_errors",
        "execution_events",
        ["at"],
        sqlite_where=_ERROR_EVENT,
        postgresql_where=_ERROR_EVENT,
    )
    op.create_index(
        "ix_executions_finished_at",
        "executions",
        ["finished_at"],
        sqlite_where=_FINISHED,
        postgresql_where=_FINISHED,
    )


def downgrade() -> None:
    """Drop ``alerts`` and the partial indexes (alert history is lost)."""
    op.drop_index("ix_executions_finished_at", table_name="executions")
    op.drop_index("ix_execution_events_errors", table_name="execution_events")
    op.drop_index("ix_alerts_resolved_at", table_name="alerts")
    op.drop_index("ix_alerts_fired_at", table_name="alerts")
    op.drop_index("uq_alerts_firing", table_name="alerts")
    op.drop_table("alerts")
