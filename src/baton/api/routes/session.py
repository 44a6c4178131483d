"""``/api/session``: the dashboard's sign-in, an API key exchanged for a session cookie.

``POST`` checks the key like any request (a bad one gets the same 401) and sets two cookies:

- ``baton_session``: the session token; HttpOnly, so the page's scripts never hold a
  credential; SameSite=Strict, so no other site's page can send it; ``Secure`` when the
  request came over https.
- ``baton_csrf``: the CSRF token, readable by the page, which echoes it in ``X-CSRF-Token``
  with every state-changing request (see `baton.api.auth`).

``DELETE`` ends the session and clears both. Sessions live in the database: they survive a
server restart, expire after ``BATON_SESSION_TTL_S``, and end when their key is revoked.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from baton.api.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    SESSION_COOKIE,
    Services,
    check_csrf,
    unauthenticated,
)
from baton.enterprise.tenancy import Principal
from baton.wire import PrincipalOut

router = APIRouter(prefix="/api/session", tags=["session"])


class SessionIn(BaseModel):
    """Sign in with an API key."""

    model_config = ConfigDict(extra="forbid")

    # No minimum: an empty key is a bad key like any other (the same 401).
    api_key: Annotated[str, Field(max_length=1000)]
    """A key such as ``baton_...`` (`baton serve` prints the first admin's)."""


class SessionOut(BaseModel):
    """A session just opened: the CSRF token to echo, and who the session acts as."""

    csrf_token: str
    """Send it as ``X-CSRF-Token`` with every POST, PUT, PATCH and DELETE."""
    principal: PrincipalOut
    """The same as ``GET /api/me``."""
    expires_at: datetime
    """When the session ends (sign in again then)."""


def principal_out(principal: Principal) -> PrincipalOut:
    """The wire form of a principal (as ``GET /api/me`` answers)."""
    return PrincipalOut(
        user_id=principal.user_id,
        name=principal.name,
        kind=principal.kind,
        workspace_id=principal.workspace_id,
        role=principal.role.value,  # type: ignore[arg-type]  # Role values are the literal's
        key_id=principal.key_id,
    )


@router.post("", summary="Sign in: exchange an API key for a session cookie")
async def sign_in(
    body: SessionIn, request: Request, response: Response, services: Services
) -> SessionOut:
    """Sets ``baton_session`` (HttpOnly) and ``baton_csrf``; a bad key is a 401."""
    grant = await services.baton.sessions.open(body.api_key)
    if grant is None:
        raise unauthenticated()
    max_age = max(1, int(services.settings.session_ttl_s))
    secure = request.url.scheme == "https"
    for name, value, http_only in (
        (SESSION_COOKIE, grant.token, True),
        (CSRF_COOKIE, grant.csrf_token, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )
    return SessionOut(
        csrf_token=grant.csrf_token,
        principal=principal_out(grant.principal),
        expires_at=grant.expires_at,
    )


@router.delete("", status_code=status.HTTP_204_NO_CONTENT, summary="Sign out: end the session")
async def sign_out(request: Request, services: Services) -> Response:
    """Ends the cookie's session, if any, and clears both cookies.

    A 204 even without a session (the cookies are cleared all the same); a 403 when the
    cookie names a live session but the request lacks its CSRF token.
    """
    token = request.cookies.get(SESSION_COOKIE)
    sessions = services.baton.sessions
    if token and await sessions.authenticate(token) is not None:
        # Signing someone out is a state change a cross-site page must not make either.
        check_csrf(token, request.headers.get(CSRF_HEADER))
        await sessions.close(token)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    secure = request.url.scheme == "https"
    for name, http_only in ((SESSION_COOKIE, True), (CSRF_COOKIE, False)):
        response.delete_cookie(name, path="/", secure=secure, httponly=http_only, samesite="strict")
    return response
