"""The initial schema: executions, steps, the event log, checkpoints, the calendar.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Written out in full rather than importing baton's table modules: a revision must keep
creating the schema it created when the modules have moved on. Types are the portable
ones: JSON is JSONB on PostgreSQL; timestamps are ``DateTime(timezone=True)`` (baton's
``UtcDateTime`` stores UTC in them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
_TIME = sa.DateTime(timezone=True)


def _execution_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["execution_id"],
        ["executions.id"],
        name=f"fk_{table}_execution_id_executions",
        ondelete="CASCADE",
    )


def upgrade() -> None:
    """Create every table with its keys and indexes."""
    op.create_table(
        "executions",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("request", sa.Text(), nullable=True),
        sa.Column("plan", _JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_expires_at", _TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
    )
    op.create_index("ix_executions_status", "executions", ["status"])
    op.create_index("ix_executions_workspace_created", "executions", ["workspace_id", "created_at"])
    op.create_table(
        "execution_steps",
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("agent", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", _TIME, nullable=True),
        sa.Column("finished_at", _TIME, nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("output", _JSON, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        _execution_fk("execution_steps"),
        sa.PrimaryKeyConstraint("execution_id", "step_id", name="pk_execution_steps"),
    )
    op.create_table(
        "execution_events",
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step_id", sa.String(64), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", _TIME, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        _execution_fk("execution_events"),
        sa.PrimaryKeyConstraint("execution_id", "seq", name="pk_execution_events"),
    )
    op.create_table(
        "execution_checkpoints",
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("snapshot", _JSON, nullable=False),
        _execution_fk("execution_checkpoints"),
        sa.PrimaryKeyConstraint("execution_id", name="pk_execution_checkpoints"),
    )
    op.create_table(
        "calendar_events",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("start_at", _TIME, nullable=False),
        sa.Column("end_at", _TIME, nullable=False),
        sa.Column("tzid", sa.String(64), nullable=True),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_calendar_events"),
        sa.UniqueConstraint("workspace_id", "uid", name="uq_calendar_events_workspace_uid"),
        sa.UniqueConstraint(
            "workspace_id", "idempotency_key", name="uq_calendar_events_workspace_key"
        ),
    )
    op.create_index(
        "ix_calendar_events_workspace_start", "calendar_events", ["workspace_id", "start_at"]
    )
    op.create_table(
        "calendar_event_attendees",
        sa.Column("event_id", sa.String(40), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("address_key", sa.String(320), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["calendar_events.id"],
            name="fk_calendar_event_attendees_event_id_calendar_events",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "position", name="pk_calendar_event_attendees"),
    )
    op.create_index(
        "ix_calendar_event_attendees_address_key", "calendar_event_attendees", ["address_key"]
    )


def downgrade() -> None:
    """Drop every table (and so everything baton stored)."""
    op.drop_table("calendar_event_attendees")
    op.drop_table("calendar_events")
    op.drop_table("execution_checkpoints")
    op.drop_table("execution_events")
    op.drop_table("execution_steps")
    op.drop_table("executions")
