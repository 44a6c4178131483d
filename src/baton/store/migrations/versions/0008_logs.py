"""Logs: ``logs``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-25

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``logs`` (to be written)."""


def downgrade() -> None:
    """Drop ``logs`` (to be written)."""
