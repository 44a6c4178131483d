"""Tenancy: ``workspaces``, ``users``, ``api_keys`` and ``feedback``.

Revision ID: 0006
Revises: 0005
Create Date: 2026-02-10

A user row is also its membership (workspace and role), so there is no separate memberships
table: a person in two workspaces is two users. Keys and feedback reference the user's
(workspace, user) pair, so neither can sit in a workspace its user does not belong to.

Written out in full rather than importing ``baton.store.sql.tenancy``: a revision must keep
creating the schema it created when the modules have moved on.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TIME = sa.DateTime(timezone=True)


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["workspace_id", "user_id"],
        ["users.workspace_id", "users.id"],
        name=f"fk_{table}_workspace_id_users",
    )


def upgrade() -> None:
    """Create the four tables with their keys and indexes."""
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_workspaces"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["workspace_id"], ["workspaces.id"], name="fk_users_workspace_id_workspaces"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("workspace_id", "id", name="uq_users_workspace_id_id"),
    )
    op.create_table(
        "api_keys",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.Column("expires_at", _TIME, nullable=True),
        sa.Column("revoked_at", _TIME, nullable=True),
        sa.Column("last_used_at", _TIME, nullable=True),
        _user_fk("api_keys"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
    )
    op.create_index("ix_api_keys_workspace_id_user_id", "api_keys", ["workspace_id", "user_id"])
    op.create_table(
        "feedback",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("workspace_id", sa.String(64), nullable=False),
        sa.Column("execution_id", sa.String(40), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", _TIME, nullable=False),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_feedback_rating"),
        _user_fk("feedback"),
        sa.PrimaryKeyConstraint("id", name="pk_feedback"),
    )
    op.create_index(
        "ix_feedback_workspace_id_created_at", "feedback", ["workspace_id", "created_at"]
    )
    op.create_index(
        "ix_feedback_workspace_id_execution_id",
        "feedback",
        ["workspace_id", "execution_id", "created_at"],
    )


def downgrade() -> None:
    """Drop the four tables (and so every user, key and rating)."""
    op.drop_index("ix_feedback_workspace_id_execution_id", table_name="feedback")
    op.drop_index("ix_feedback_workspace_id_created_at", table_name="feedback")
    op.drop_table("feedback")
    op.drop_index("ix_api_keys_workspace_id_user_id", table_name="api_keys")
    op.drop_table("api_keys")
    op.drop_table("users")
    op.drop_table("workspaces")
