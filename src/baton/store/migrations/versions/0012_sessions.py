"""Dashboard sessions: ``sessions``, one row per signed-in browser.

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder (filled in by the change that owns it)."""


def downgrade() -> None:
    """Placeholder."""
