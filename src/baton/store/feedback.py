"""Feedback on executions: a user's rating (1 to 5) and comment, and the store they live in.

Feedback is what the learning engine learns from, so it is append-only: a user who changes
their mind adds another entry. Like every workspace-owned row it carries the workspace id,
and `FeedbackStore.list` is scoped by it. The store does not check that the execution
belongs to the workspace: the caller (the API) has already found it there.

The SQL implementation is `baton.store.sql.feedback.SqlFeedbackStore`; both pass
``tests/store/test_feedback_store.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from baton.errors import UsageError
from baton.ids import new_execution_id

__all__ = [
    "MAX_COMMENT_CHARS",
    "MAX_RATING",
    "MIN_RATING",
    "Feedback",
    "FeedbackStore",
    "MemoryFeedbackStore",
    "new_feedback_id",
]

MIN_RATING = 1
"""The worst rating."""
MAX_RATING = 5
"""The best rating."""
MAX_COMMENT_CHARS = 4000
"""The longest comment kept (a paragraph or two; more is not feedback but a report)."""


def new_feedback_id() -> str:
    """A new, time-sortable feedback id such as ``fb_01hx...``."""
    return "fb_" + new_execution_id().removeprefix("ex_")


@dataclass(frozen=True, slots=True, kw_only=True)
class Feedback:
    """One user's rating of one execution."""

    id: str
    """``fb_...``."""
    workspace_id: str
    """The workspace of the execution and of the user."""
    execution_id: str
    """The execution rated."""
    user_id: str
    """Who rated it."""
    rating: int
    """From `MIN_RATING` (bad) to `MAX_RATING` (good)."""
    comment: str
    """What they said, possibly nothing."""
    created_at: datetime
    """When they said it."""


class FeedbackStore(Protocol):
    """Where feedback lives; append-only, scoped by workspace."""

    async def add(self, feedback: Feedback) -> Feedback:
        """Store one entry.

        Raises:
            UsageError: the rating is out of range, the comment too long, or the id exists.
        """
        ...

    async def list(
        self, workspace_id: str, execution_id: str | None = None, limit: int = 100
    ) -> list[Feedback]:
        """The workspace's feedback, newest first, optionally on one execution only.

        Args:
            workspace_id: The workspace.
            execution_id: Only feedback on this execution.
            limit: At most this many entries (1 or more).

        Raises:
            UsageError: `limit` is below 1.
        """
        ...


def check_new(feedback: Feedback) -> None:
    """Refuse an entry that `FeedbackStore.add` cannot store."""
    if not MIN_RATING <= feedback.rating <= MAX_RATING:
        raise UsageError(
            f"a rating must be from {MIN_RATING} to {MAX_RATING}, not {feedback.rating}"
        )
    if len(feedback.comment) > MAX_COMMENT_CHARS:
        raise UsageError(f"a comment may have at most {MAX_COMMENT_CHARS} characters")


def check_limit(limit: int) -> None:
    """Refuse a listing limit below 1."""
    if limit < 1:
        raise UsageError(f"limit must be 1 or more, not {limit}")


class MemoryFeedbackStore:
    """A `FeedbackStore` in a dict: one process only (tests, running without a database)."""

    def __init__(self) -> None:
        """Start empty."""
        self._rows: dict[str, Feedback] = {}

    async def add(self, feedback: Feedback) -> Feedback:
        """Store one entry."""
        check_new(feedback)
        if feedback.id in self._rows:
            raise UsageError(f"feedback {feedback.id!r} exists already")
        self._rows[feedback.id] = feedback
        return feedback

    async def list(
        self, workspace_id: str, execution_id: str | None = None, limit: int = 100
    ) -> list[Feedback]:
        """The workspace's feedback, newest first."""
        check_limit(limit)
        rows = [
            f
            for f in self._rows.values()
            if f.workspace_id == workspace_id
            and (execution_id is None or f.execution_id == execution_id)
        ]
        rows.sort(key=lambda f: (f.created_at, f.id), reverse=True)
        return rows[:limit]
