"""Roles and permissions (RBAC): what each role of a workspace may do.

`ROLE_PERMISSIONS` is the single source of truth: the service checks it through `allows`,
and the API's permission matrix test reads it, so a change here is a change everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType

from baton.store.tenancy import Role as Role

__all__ = ["ROLE_PERMISSIONS", "Permission", "Role", "allows"]


class Permission(StrEnum):
    """One thing a user may be allowed to do in their workspace."""

    EXECUTIONS_READ = "executions:read"
    """See executions, their steps and events."""
    EXECUTIONS_RUN = "executions:run"
    """Start an execution, plan one as a dry run, resume one."""
    EXECUTIONS_CANCEL = "executions:cancel"
    """Cancel a running execution."""
    APPROVALS_READ = "approvals:read"
    """See approval requests."""
    APPROVALS_DECIDE = "approvals:decide"
    """Approve or reject a gated step."""
    FEEDBACK_WRITE = "feedback:write"
    """Rate an execution."""
    AGENTS_READ = "agents:read"
    """See the registered agents."""
    MEMBERS_READ = "members:read"
    """See the workspace's users."""
    MEMBERS_MANAGE = "members:manage"
    """Add users, change their roles, remove them."""
    KEYS_READ_OWN = "keys:read_own"
    """See one's own API keys."""
    KEYS_MANAGE_OWN = "keys:manage_own"
    """Create and revoke one's own API keys."""
    KEYS_MANAGE_ALL = "keys:manage_all"
    """See, create and revoke every user's API keys (service accounts' included)."""
    WORKSPACES_CREATE = "workspaces:create"
    """Create another workspace."""
    METRICS_READ = "metrics:read"
    """Scrape the server's Prometheus metrics (``/metrics``: the whole process's numbers)."""


_VIEWER = frozenset(
    {
        Permission.EXECUTIONS_READ,
        Permission.APPROVALS_READ,
        Permission.AGENTS_READ,
        Permission.MEMBERS_READ,
        Permission.KEYS_READ_OWN,
    }
)
_MEMBER = _VIEWER | {
    Permission.EXECUTIONS_RUN,
    Permission.EXECUTIONS_CANCEL,
    Permission.APPROVALS_DECIDE,
    Permission.FEEDBACK_WRITE,
    Permission.KEYS_MANAGE_OWN,
}

ROLE_PERMISSIONS: Mapping[Role, frozenset[Permission]] = MappingProxyType(
    {
        Role.ADMIN: frozenset(Permission),
        Role.MEMBER: _MEMBER,
        Role.VIEWER: _VIEWER,
    }
)
"""What each role may do (read-only: it is the policy, not a setting)."""


def allows(role: Role, permission: Permission) -> bool:
    """Whether `role` has `permission`."""
    return permission in ROLE_PERMISSIONS[role]
