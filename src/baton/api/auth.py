"""Who is calling, and may they: the API's authentication and RBAC dependencies.

A request authenticates with an API key, as ``Authorization: Bearer baton_...`` or
``X-API-Key: baton_...``. A missing, malformed, unknown, revoked or expired key, or the key
of a disabled user, all get the *same* 401, so a caller learns nothing about which keys
exist. What a principal may do is the role table in `baton.enterprise.roles`; routes declare
the permission they need with ``Depends(requires(Permission.X))``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from baton.api.problems import FORBIDDEN, UNAUTHENTICATED, ApiProblem
from baton.api.services import ApiServices, services_of
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal

__all__ = ["CurrentPrincipal", "Services", "authenticate", "requires"]

# auto_error=False: a missing header must answer our 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Bearer baton_...`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def _services(request: Request) -> ApiServices:
    # async: a sync dependency would cost a thread-pool hop on every request.
    return services_of(request.app)


Services = Annotated[ApiServices, Depends(_services)]


async def authenticate(
    services: Services,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The principal behind the request's API key, or a 401 problem."""
    token = bearer.credentials if bearer is not None else api_key
    principal = await services.tenancy.authenticate(token)
    if principal is None:
        raise ApiProblem(
            UNAUTHENTICATED,
            "a valid API key is required",
            hint="send `Authorization: Bearer <key>`; `baton serve` prints the first admin key",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def requires(permission: Permission) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency that lets the request through only if its principal has `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise ApiProblem(
                FORBIDDEN,
                f"the {principal.role.value} role may not {permission.value}",
                hint="ask an admin of the workspace for a role that allows it",
            )
        return principal

    return check
