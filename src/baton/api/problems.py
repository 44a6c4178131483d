"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API returns has the same shape, and a stable ``type`` per error class that a
client can switch on without parsing the message::

    {"type": "https://baton.dev/problems/not-found", "title": "Not found", "status": 404,
     "detail": "execution ex_01... not found", "hint": "..."}

`BatonError`s map by class (the most specific registered class wins); request validation
failures list each problem with where it is; anything unexpected is a 500 whose detail says
nothing of the internals (the traceback goes to the server log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from baton.core.lease import LeaseHeldError
from baton.errors import (
    AgentInputError,
    BatonError,
    ConfigError,
    ExecutionStateError,
    NotFoundError,
    PermissionDeniedError,
    PlanLoadError,
    PlanningError,
    PlanValidationError,
    RateLimitedError,
    RunError,
    UnknownAgentError,
    UsageError,
)
from baton.safety.approvals import ApprovalError

__all__ = [
    "PROBLEM_JSON",
    "CSRF_FAILED",
    "PROBLEM_TYPES",
    "ApiProblem",
    "install_problem_handlers",
    "problem_response",
]

log = logging.getLogger("baton.api")

PROBLEM_JSON = "application/problem+json"
_BASE = "https://baton.dev/problems/"


@dataclass(frozen=True, slots=True)
class ProblemType:
    """One kind of problem: its URI slug, HTTP status and title."""

    slug: str
    status: int
    title: str

    @property
    def uri(self) -> str:
        """The stable ``type`` member."""
        return _BASE + self.slug


UNAUTHENTICATED = ProblemType("unauthenticated", 401, "Unauthenticated")
FORBIDDEN = ProblemType("forbidden", 403, "Forbidden")
CSRF_FAILED = ProblemType("csrf-failed", 403, "CSRF check failed")
NOT_FOUND = ProblemType("not-found", 404, "Not found")
INVALID_REQUEST = ProblemType("invalid-request", 422, "Invalid request")
INVALID_PLAN = ProblemType("invalid-plan", 422, "Invalid plan")
PLANNING_FAILED = ProblemType("planning-failed", 422, "The request could not be planned")
BAD_REQUEST = ProblemType("bad-request", 400, "Bad request")
CONFLICT = ProblemType("conflict", 409, "Conflict")
APPROVAL_CONFLICT = ProblemType("approval-conflict", 409, "The approval cannot be used")
TOO_LARGE = ProblemType("payload-too-large", 413, "Request body too large")
RATE_LIMITED = ProblemType("rate-limited", 429, "Rate limited")
METHOD_NOT_ALLOWED = ProblemType("method-not-allowed", 405, "Method not allowed")
UNSUPPORTED_MEDIA = ProblemType("unsupported-media-type", 415, "Unsupported media type")
NOT_ACCEPTABLE = ProblemType("not-acceptable", 406, "Not acceptable")
MISCONFIGURED = ProblemType("misconfigured", 500, "Server misconfigured")
RUN_FAILED = ProblemType("run-failed", 500, "The operation failed")
INTERNAL = ProblemType("internal", 500, "Internal server error")
UNAVAILABLE = ProblemType("unavailable", 503, "Not ready")

# Most specific first: the first class an error is an instance of decides.
_BY_CLASS: Sequence[tuple[type[BaseException], ProblemType]] = (
    (PermissionDeniedError, FORBIDDEN),
    (NotFoundError, NOT_FOUND),
    (PlanValidationError, INVALID_PLAN),
    (PlanLoadError, INVALID_PLAN),
    (UnknownAgentError, INVALID_PLAN),
    (AgentInputError, INVALID_REQUEST),
    (PlanningError, PLANNING_FAILED),
    (ApprovalError, APPROVAL_CONFLICT),
    (LeaseHeldError, CONFLICT),
    (ExecutionStateError, CONFLICT),
    (ConfigError, MISCONFIGURED),
    (UsageError, BAD_REQUEST),
    (RateLimitedError, RATE_LIMITED),
    (RunError, RUN_FAILED),
)

_BY_STATUS = {
    p.status: p
    for p in (
        UNAUTHENTICATED,
        FORBIDDEN,
        NOT_FOUND,
        METHOD_NOT_ALLOWED,
        NOT_ACCEPTABLE,
        CONFLICT,
        TOO_LARGE,
        UNSUPPORTED_MEDIA,
        INVALID_REQUEST,
        RATE_LIMITED,
        UNAVAILABLE,
        BAD_REQUEST,
    )
}

PROBLEM_TYPES: dict[str, ProblemType] = {
    p.slug: p for p in (*(t for _, t in _BY_CLASS), *_BY_STATUS.values(), INTERNAL, CSRF_FAILED)
}
"""Every problem type the API can answer with, by slug (documented in OpenAPI)."""


class ApiProblem(Exception):
    """Raised by routes for HTTP-level problems that are not `BatonError`s (401, 409...)."""

    def __init__(
        self,
        kind: ProblemType,
        detail: str,
        *,
        hint: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.kind = kind
        self.detail = detail
        self.hint = hint
        self.headers = headers


def problem_response(
    kind: ProblemType,
    detail: str,
    *,
    hint: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A problem-details response."""
    body: dict[str, Any] = {
        "type": kind.uri,
        "title": kind.title,
        "status": kind.status,
        "detail": detail,
    }
    if hint:
        body["hint"] = hint
    body.update(extra)
    return JSONResponse(body, status_code=kind.status, headers=headers, media_type=PROBLEM_JSON)


def problem_for(exc: BatonError) -> ProblemType:
    """The problem type of a `BatonError` (by its most specific registered class)."""
    for cls, kind in _BY_CLASS:
        if isinstance(exc, cls):
            return kind
    return INTERNAL


_METHODS = ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")


def _allowed_methods(request: Request) -> set[str]:
    """Every method some route of the app accepts at the request's path.

    Each method is put to the router as the request with that method: included routers are
    nested routes (not flattened into ``app.routes``), and a route may refuse a path or a
    method its own way (see `baton.api.dashboard`), so asking the routes is what is exact.
    """
    allowed: set[str] = set()
    for method in _METHODS:
        scope = {**request.scope, "method": method}
        if any(r.matches(scope)[0] is Match.FULL for r in request.app.router.routes):
            allowed.add(method)
    return allowed


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of `app` a problem-details response."""

    async def on_baton_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, BatonError)
        kind = problem_for(exc)
        if kind.status >= 500:
            log.error("%s %s failed: %s", request.method, request.url.path, exc)
        extra: dict[str, Any] = {}
        if isinstance(exc, PlanValidationError):
            extra["errors"] = [
                {"code": p.code, "step": p.step_id, "message": p.message, "hint": p.hint}
                for p in exc.problems
            ]
        if isinstance(exc, PlanningError):
            extra["understood"] = list(exc.understood)
            extra["not_understood"] = list(exc.not_understood)
        return problem_response(kind, exc.message, hint=exc.hint, **extra)

    async def on_api_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(exc.kind, exc.detail, hint=exc.hint, headers=exc.headers)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {
                "where": ".".join(str(p) for p in e.get("loc", ())),
                "message": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"where": "request", "message": "invalid"}
        detail = f"{first['where']}: {first['message']}"
        if len(errors) > 1:
            detail += f" (and {len(errors) - 1} more problem(s))"
        return problem_response(
            INVALID_REQUEST,
            detail,
            hint="see `errors` for each problem; /docs shows the expected shapes",
            errors=errors,
        )

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        kind = _BY_STATUS.get(exc.status_code, INTERNAL if exc.status_code >= 500 else BAD_REQUEST)
        headers = dict(exc.headers) if exc.headers else {}
        if exc.status_code == 405:
            # Starlette names the methods of the first route with this path only.
            headers["Allow"] = ", ".join(sorted(_allowed_methods(request)))
        return problem_response(kind, str(exc.detail), headers=headers or None)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s crashed", request.method, request.url.path, exc_info=exc)
        return problem_response(
            INTERNAL, "an unexpected error occurred; it was logged on the server"
        )

    app.add_exception_handler(BatonError, on_baton_error)
    app.add_exception_handler(ApiProblem, on_api_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_unexpected)
