"""Traces: ``traces``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``traces`` (to be written)."""


def downgrade() -> None:
    """Drop ``traces`` (to be written)."""
