"""`FeedbackStore` on SQLAlchemy: one ``feedback`` row per rating.

The row's (workspace, user) pair references the user's own, so feedback cannot be written
in a workspace its author does not belong to (the SQL store refuses it as a `UsageError`;
the in-memory store, which knows no users, cannot check). There is no key to the execution:
feedback is what the learning engine learns from, and may outlive a deleted execution.
"""

from __future__ import annotations

import builtins
from collections.abc import Generator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Column,
    ForeignKeyConstraint,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError, UsageError
from baton.store.feedback import Feedback, check_limit, check_new
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

# The users table must be on the metadata before a key to it is resolved.
from baton.store.sql.tenancy import users as users

__all__ = ["SqlFeedbackStore", "feedback_table"]

feedback_table = Table(
    "feedback",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("execution_id", String(40), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("rating", Integer, nullable=False),
    Column("comment", Text, nullable=False, default=""),
    Column("created_at", UtcDateTime, nullable=False),
    CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
    ForeignKeyConstraint(
        ["workspace_id", "user_id"],
        ["users.workspace_id", "users.id"],
        name="fk_feedback_workspace_id_users",
    ),
    # The two listings: a workspace's newest, and one execution's newest.
    Index("ix_feedback_workspace_id_created_at", "workspace_id", "created_at"),
    Index("ix_feedback_workspace_id_execution_id", "workspace_id", "execution_id", "created_at"),
)

_f = feedback_table.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise UsageError(f"the feedback store refused to {action}: {exc.orig}") from exc
    except DBAPIError as exc:
        raise StoreError(
            f"the feedback store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _record(row: Row[Any]) -> Feedback:
    return Feedback(
        id=row.id,
        workspace_id=row.workspace_id,
        execution_id=row.execution_id,
        user_id=row.user_id,
        rating=row.rating,
        comment=row.comment,
        created_at=row.created_at,
    )


class SqlFeedbackStore:
    """A `FeedbackStore` in the ``feedback`` table."""

    def __init__(self, db: Database) -> None:
        """Use `db`."""
        self._db = db

    async def add(self, feedback: Feedback) -> Feedback:
        """Store one entry (its user must be in its workspace)."""
        check_new(feedback)
        stmt = insert(feedback_table).values(
            id=feedback.id,
            workspace_id=feedback.workspace_id,
            execution_id=feedback.execution_id,
            user_id=feedback.user_id,
            rating=feedback.rating,
            comment=feedback.comment,
            created_at=feedback.created_at,
        )
        with _store_errors("add feedback"):
            await self._db.transaction(lambda conn: conn.execute(stmt))
        return feedback

    async def list(
        self, workspace_id: str, execution_id: str | None = None, limit: int = 100
    ) -> builtins.list[Feedback]:
        """The workspace's feedback, newest first."""
        check_limit(limit)
        query = select(feedback_table).where(_f.workspace_id == workspace_id)
        if execution_id is not None:
            query = query.where(_f.execution_id == execution_id)
        query = query.order_by(_f.created_at.desc(), _f.id.desc()).limit(limit)
        with _store_errors("list feedback"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]
