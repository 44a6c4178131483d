"""Logs: an index for searches filtered by level only.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-26

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder (filled in by the change that owns it)."""


def downgrade() -> None:
    """Placeholder."""
