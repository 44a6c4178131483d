"""The role -> permission table: the policy every check (and the API's matrix test) reads."""

from __future__ import annotations

import pytest

import baton.enterprise
from baton.enterprise.roles import ROLE_PERMISSIONS, Permission, Role, allows
from baton.store import tenancy as store_tenancy

MEMBER_ONLY = {
    Permission.EXECUTIONS_RUN,
    Permission.EXECUTIONS_CANCEL,
    Permission.APPROVALS_DECIDE,
    Permission.FEEDBACK_WRITE,
    Permission.KEYS_MANAGE_OWN,
}
VIEWER = {
    Permission.EXECUTIONS_READ,
    Permission.APPROVALS_READ,
    Permission.AGENTS_READ,
    Permission.MEMBERS_READ,
    Permission.KEYS_READ_OWN,
}
ADMIN_ONLY = {
    Permission.MEMBERS_MANAGE,
    Permission.KEYS_MANAGE_ALL,
    Permission.WORKSPACES_CREATE,
    Permission.METRICS_READ,
}


def test_every_role_has_an_entry() -> None:
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_admin_may_do_everything() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(Permission)


def test_member_and_viewer_are_exactly_as_specified() -> None:
    assert ROLE_PERMISSIONS[Role.VIEWER] == VIEWER
    assert ROLE_PERMISSIONS[Role.MEMBER] == VIEWER | MEMBER_ONLY


def test_the_three_sets_cover_every_permission_once() -> None:
    assert set(Permission) == VIEWER | MEMBER_ONLY | ADMIN_ONLY
    assert len(VIEWER) + len(MEMBER_ONLY) + len(ADMIN_ONLY) == len(Permission)


def test_roles_are_nested() -> None:
    assert ROLE_PERMISSIONS[Role.VIEWER] < ROLE_PERMISSIONS[Role.MEMBER]
    assert ROLE_PERMISSIONS[Role.MEMBER] < ROLE_PERMISSIONS[Role.ADMIN]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("permission", list(Permission))
def test_allows_reads_the_table(role: Role, permission: Permission) -> None:
    assert allows(role, permission) is (permission in ROLE_PERMISSIONS[role])


def test_the_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        ROLE_PERMISSIONS[Role.VIEWER] = frozenset(Permission)  # type: ignore[index]


def test_wire_values_are_stable() -> None:
    # Stored in rows and sent over the API: renaming one is a migration, not a refactor.
    assert [r.value for r in Role] == ["admin", "member", "viewer"]
    assert Permission.EXECUTIONS_RUN == "executions:run"
    assert Permission.KEYS_MANAGE_ALL == "keys:manage_all"


def test_role_is_the_store_s_role() -> None:
    assert Role is store_tenancy.Role


def test_the_package_exports() -> None:
    assert baton.enterprise.__all__ == [
        "DEFAULT_WORKSPACE_ID",
        "ROLE_PERMISSIONS",
        "Permission",
        "Principal",
        "Role",
        "Tenancy",
        "allows",
    ]
    for name in baton.enterprise.__all__:
        assert getattr(baton.enterprise, name) is not None
