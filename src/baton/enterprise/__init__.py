"""Enterprise: workspaces, users, API keys and roles (RBAC).

The records and the store are `baton.store.tenancy`; this package is the policy over them:
what each role may do (`roles`), the API key tokens (`keys`) and the service that
authenticates callers and checks every action (`tenancy`).
"""

from baton.enterprise.roles import ROLE_PERMISSIONS as ROLE_PERMISSIONS
from baton.enterprise.roles import Permission as Permission
from baton.enterprise.roles import Role as Role
from baton.enterprise.roles import allows as allows
from baton.enterprise.tenancy import DEFAULT_WORKSPACE_ID as DEFAULT_WORKSPACE_ID
from baton.enterprise.tenancy import Principal as Principal
from baton.enterprise.tenancy import Tenancy as Tenancy

__all__ = [
    "DEFAULT_WORKSPACE_ID",
    "ROLE_PERMISSIONS",
    "Permission",
    "Principal",
    "Role",
    "Tenancy",
    "allows",
]
