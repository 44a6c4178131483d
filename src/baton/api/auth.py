"""Who is calling, and may they: the API's authentication and RBAC dependencies.

A request authenticates with an API key, as ``Authorization: Bearer baton_...`` or
``X-API-Key: baton_...``. A missing, malformed, unknown, revoked or expired key, or the key
of a disabled user, all get the *same* 401, so a caller learns nothing about which keys
exist. A browser signed in to the dashboard sends its session cookie (``baton_session``,
see `baton.enterprise.sessions`) instead: a key header, when present, wins; otherwise the
cookie is tried. A state-changing request (POST, PUT, PATCH, DELETE) authenticated by the
cookie must also carry ``X-CSRF-Token``, since a browser attaches cookies to cross-site
requests too; a request authenticated by a header carries no ambient credential and needs
none. What a principal may do is the role table in `baton.enterprise.roles`; routes declare
the permission they need with ``Depends(requires(Permission.X))``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from baton.api.problems import CSRF_FAILED, FORBIDDEN, UNAUTHENTICATED, ApiProblem
from baton.api.services import ApiServices, services_of
from baton.enterprise.roles import Permission
from baton.enterprise.sessions import Sessions
from baton.enterprise.tenancy import Principal

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "CurrentPrincipal",
    "Services",
    "authenticate",
    "check_csrf",
    "requires",
    "unauthenticated",
]

SESSION_COOKIE = "baton_session"
"""The HttpOnly cookie holding a dashboard session's token."""
CSRF_COOKIE = "baton_csrf"
"""The cookie holding the session's CSRF token (readable by the page's scripts)."""
CSRF_HEADER = "X-CSRF-Token"
"""Where a cookie-authenticated, state-changing request echoes the CSRF token."""
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# auto_error=False: a missing header must answer our 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="An API key: `Bearer baton_...`")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")


async def _services(request: Request) -> ApiServices:
    # async: a sync dependency would cost a thread-pool hop on every request.
    return services_of(request.app)


Services = Annotated[ApiServices, Depends(_services)]


async def authenticate(
    request: Request,
    services: Services,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The principal behind the request's API key or session cookie, or a 401 problem.

    Raises:
        ApiProblem: 401 without valid credentials; 403 for a cookie-authenticated,
            state-changing request without the session's CSRF token.
    """
    token = bearer.credentials if bearer is not None else api_key
    session = request.cookies.get(SESSION_COOKIE) if token is None else None
    if session is not None:
        principal = await services.baton.sessions.authenticate(session)
        if principal is not None and request.method not in _SAFE_METHODS:
            check_csrf(session, request.headers.get(CSRF_HEADER))
    else:
        principal = await services.tenancy.authenticate(token)
    if principal is None:
        raise unauthenticated()
    return principal


def unauthenticated() -> ApiProblem:
    """The one 401 problem for every missing or bad credential, whatever was wrong."""
    return ApiProblem(
        UNAUTHENTICATED,
        "a valid API key is required",
        hint="send `Authorization: Bearer <key>`; `baton serve` prints the first admin key",
        headers={"WWW-Authenticate": "Bearer"},
    )


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def check_csrf(session: str, sent: str | None) -> None:
    """Refuse (403) a cookie-authenticated change without the session's CSRF token."""
    if not Sessions.csrf_ok(session, sent):
        raise ApiProblem(
            CSRF_FAILED,
            "a request made with the session cookie must carry its CSRF token",
            hint=f"send the `{CSRF_COOKIE}` cookie's value in the `{CSRF_HEADER}` header "
            "with every POST, PUT, PATCH and DELETE made with the session cookie",
        )


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
