"""Alerts: ``alerts``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-25

Written out in full rather than importing the store modules: a revision must keep creating
the schema it created when the modules have moved on.
"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create ``alerts`` (to be written)."""


def downgrade() -> None:
    """Drop ``alerts`` (to be written)."""
