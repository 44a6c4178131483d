"""What the server's problem details (and a server that cannot be reached) become on the client.

A problem-details answer (``application/problem+json``) becomes the `BatonError` that the
server raised, as near as the wire allows, chosen by the problem's ``type`` slug, with the
server's ``detail`` as its message and its ``hint``:

| problem ``type`` slug                       | raised                                    |
|---------------------------------------------|-------------------------------------------|
| ``unauthenticated`` (401)                   | `AuthenticationError` (a `UsageError`)    |
| ``forbidden`` (403)                         | `PermissionDeniedError`                   |
| ``not-found`` (404)                         | `NotFoundError`                           |
| ``invalid-plan`` (422)                      | `PlanValidationError` (each problem) or   |
|                                             | `PlanLoadError`                           |
| ``planning-failed`` (422)                   | `PlanningError`                           |
| ``invalid-request`` (422), ``bad-request``, | `UsageError`                              |
| and other 4xx                               |                                           |
| ``conflict``, ``approval-conflict`` (409)   | `ConflictError` (a `UsageError`)          |
| ``rate-limited`` (429)                      | `RateLimitedError` (with ``retry_after``) |
| 5xx                                         | `ServerError` (a `RunError`)              |

A server that cannot be reached (refused, unknown host, no answer to connect) is a
`ServerUnreachableError` (a `UsageError`: a person starts the server or fixes the URL); a
connection lost or a read that times out mid-request is a `ServerError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
from pydantic import ValidationError

from baton.errors import (
    BatonError,
    NotFoundError,
    PermissionDeniedError,
    PlanLoadError,
    PlanningError,
    PlanProblem,
    PlanValidationError,
    RateLimitedError,
    RunError,
    UsageError,
)
from baton.wire import ProblemOut

__all__ = [
    "PROBLEM_BASE",
    "AuthenticationError",
    "ConflictError",
    "ServerError",
    "ServerUnreachableError",
    "error_from_response",
    "error_from_transport",
]

PROBLEM_BASE = "https://baton.dev/problems/"
"""Prefix of every problem ``type`` the server sends; the rest is the slug."""

_MAX_LISTED = 20  # request-validation problems listed in one message


class AuthenticationError(UsageError):
    """The server refused the API key: missing, unknown, revoked or expired (HTTP 401)."""


class ConflictError(UsageError):
    """The request conflicts with the current state, e.g. an approval already decided (409)."""


class ServerError(RunError):
    """The server failed (5xx), or the connection broke or timed out mid-request."""

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, hint=hint, retryable=retryable)
        self.status = status
        """The HTTP status the server answered with (None when there was no answer)."""


class ServerUnreachableError(UsageError):
    """No connection could be made to the server (refused, unknown host, connect timeout)."""


def error_from_response(response: httpx.Response, base_url: str) -> BatonError:
    """The error an HTTP error response (status 400 or above) stands for.

    The response's body must have been read.
    """
    problem = _problem_of(response)
    if problem is None:
        return _plain_error(response, base_url)
    slug = problem.type.removeprefix(PROBLEM_BASE)
    detail, hint = problem.detail, problem.hint
    match slug:
        case "unauthenticated":
            return AuthenticationError(detail, hint=hint)
        case "forbidden":
            return PermissionDeniedError(detail, hint=hint)
        case "not-found":
            return NotFoundError(detail, hint=hint)
        case "invalid-plan":
            problems = _plan_problems(problem.errors)
            if problems:
                return PlanValidationError(problems)
            return PlanLoadError(detail, hint=hint)
        case "planning-failed":
            return PlanningError(detail, hint=hint)
        case "conflict" | "approval-conflict":
            return ConflictError(detail, hint=hint)
        case "rate-limited":
            return RateLimitedError(detail, hint=hint, retry_after=_retry_after(response.headers))
        case "invalid-request":
            return UsageError(_with_errors(detail, problem.errors), hint=hint)
        case _ if response.status_code >= 500:
            return ServerError(
                detail,
                hint=hint or f"see the log of the baton server at {base_url}",
                status=response.status_code,
                retryable=response.status_code == 503,
            )
        case _:
            return UsageError(detail, hint=hint)


def error_from_transport(exc: httpx.TransportError, base_url: str) -> BatonError:
    """The error a failed exchange stands for: unreachable, timed out, or cut off."""
    if isinstance(exc, httpx.UnsupportedProtocol):
        return UsageError(
            f"cannot talk to the baton server at {base_url!r}: not an http:// or https:// URL",
            hint="set BATON_URL to the server's address, e.g. http://127.0.0.1:8000",
        )
    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return ServerUnreachableError(
            f"cannot reach the baton server at {base_url}: {_connect_reason(exc)}",
            hint="is `baton serve` running there? check BATON_URL",
        )
    if isinstance(exc, httpx.TimeoutException):
        return ServerError(
            f"the baton server at {base_url} did not answer in time ({_reason(exc)})",
            hint="it may be overloaded; try again, or raise the client's timeout",
            retryable=True,
        )
    return ServerError(
        f"the connection to the baton server at {base_url} failed: {_reason(exc)}",
        hint="try again; if it keeps failing, see the server's log",
        retryable=True,
    )


def _problem_of(response: httpx.Response) -> ProblemOut | None:
    content_type = response.headers.get("content-type", "").partition(";")[0].strip()
    if content_type not in ("application/problem+json", "application/json"):
        return None
    try:
        return ProblemOut.model_validate_json(response.content)
    except ValidationError:
        return None


def _plain_error(response: httpx.Response, base_url: str) -> BatonError:
    """An error answer that is not problem details: a proxy, or not a baton server at all."""
    what = f"{response.status_code} {response.reason_phrase}".strip()
    message = f"the server at {base_url} answered {what} to {response.request.method} " + str(
        response.request.url.path
    )
    hint = "is BATON_URL the address of a baton server (`baton serve`)?"
    if response.status_code >= 500:
        return ServerError(message, hint=hint, status=response.status_code, retryable=True)
    if response.status_code == 401:
        return AuthenticationError(message, hint=hint)
    return UsageError(message, hint=hint)


def _plan_problems(errors: list[dict[str, Any]] | None) -> list[PlanProblem]:
    problems: list[PlanProblem] = []
    for item in errors or []:
        message = item.get("message")
        if not isinstance(message, str):
            continue
        code, step, hint = item.get("code"), item.get("step"), item.get("hint")
        problems.append(
            PlanProblem(
                code=code if isinstance(code, str) else "invalid",
                message=message,
                step_id=step if isinstance(step, str) else None,
                hint=hint if isinstance(hint, str) else None,
            )
        )
    return problems


def _with_errors(detail: str, errors: list[dict[str, Any]] | None) -> str:
    """The detail, then each problem of the request on its own line (when there are several)."""
    lines: list[str] = []
    for item in (errors or [])[:_MAX_LISTED]:
        where, message = item.get("where"), item.get("message")
        if isinstance(message, str):
            lines.append(f"  - {where}: {message}" if isinstance(where, str) else f"  - {message}")
    if len(lines) < 2:
        return detail
    return "\n".join([detail, *lines])


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:  # an HTTP date: rare enough to ignore
        return None


def _connect_reason(exc: httpx.TransportError) -> str:
    text = _reason(exc)
    if isinstance(exc, httpx.ConnectTimeout):
        return "no answer to the connection (timed out)"
    if "refused" in text.lower() or "all connection attempts failed" in text.lower():
        return "connection refused"
    return text


def _reason(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__
