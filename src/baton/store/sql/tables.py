"""SQLAlchemy Core tables (one shared `metadata`; each area defines its tables beside it).

Columns are portable between SQLite and PostgreSQL: JSON becomes JSONB on PostgreSQL, and
timestamps are stored as UTC and read back timezone-aware on both.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    Dialect,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python (SQLite stores it naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes; SQLite gets naive UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Read back as aware UTC."""
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


executions = Table(
    "executions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(64), nullable=False, default="default"),
    Column("name", Text, nullable=False, default=""),
    Column("request", Text),
    Column("plan", Json, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("error", Text),
    Column("cancel_requested", Boolean, nullable=False, default=False),
    # The process running it holds a lease it renews; another may take over once it expires.
    Column("lease_owner", String(100)),
    Column("lease_expires_at", UtcDateTime),
    Index("ix_executions_workspace_created", "workspace_id", "created_at"),
    Index("ix_executions_status", "status"),
)

execution_steps = Table(
    "execution_steps",
    metadata,
    Column("execution_id", String(40), primary_key=True),
    Column("step_id", String(64), primary_key=True),
    Column("agent", String(200), nullable=False),
    Column("position", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("started_at", UtcDateTime),
    Column("finished_at", UtcDateTime),
    Column("duration_s", Float),
    Column("output", Json),
    Column("error", Text),
    ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
)

execution_events = Table(
    "execution_events",
    metadata,
    Column("execution_id", String(40), primary_key=True),
    # 1, 2, 3... per execution: the primary key makes a gap-free log without duplicates
    # checkable, and it is what SSE clients send back as Last-Event-ID.
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("step_id", String(64)),
    Column("kind", String(32), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    # The whole event as JSON text, serialised once by the event TypeAdapter.
    Column("data", Text, nullable=False),
    ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
)

execution_checkpoints = Table(
    "execution_checkpoints",
    metadata,
    # A finished execution's event log folded into one snapshot (see compaction).
    Column("execution_id", String(40), primary_key=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("event_count", Integer, nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("snapshot", Json, nullable=False),
    ForeignKeyConstraint(["execution_id"], ["executions.id"], ondelete="CASCADE"),
)
