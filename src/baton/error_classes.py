"""What kind of failure an error is (`ErrorClass`), read from its type and attributes.

Shared by the recovery ladder (`baton.core.ladder`), which picks rungs by class, and the
error metrics (`baton.observability`), which count by class. It never reads an error's
message, so a class is also safe as a metric label.
"""

from __future__ import annotations

import errno
import socket

from pydantic import ValidationError

from baton.errors import (
    ErrorClass,
    PermissionDeniedError,
    RateLimitedError,
    RunError,
    StepTimeoutError,
    UsageError,
)

__all__ = ["classify"]

_TRANSIENT_ERRNOS = frozenset(
    {
        errno.ECONNABORTED,
        errno.ECONNREFUSED,
        errno.ECONNRESET,
        errno.EHOSTDOWN,
        errno.EHOSTUNREACH,
        errno.ENETDOWN,
        errno.ENETRESET,
        errno.ENETUNREACH,
        errno.EPIPE,
        errno.ETIMEDOUT,
    }
)
"""``OSError.errno`` values that say the network failed, not the request."""


def classify(error: BaseException) -> ErrorClass:
    """The class of `error`, from its type and attributes only.

    Order matters: a rate limit is retryable too, and `TimeoutError` and `PermissionError`
    are `OSError`s.
    """
    if isinstance(error, RateLimitedError):
        return ErrorClass.RATE_LIMITED
    if isinstance(error, StepTimeoutError | TimeoutError):
        return ErrorClass.TIMEOUT
    if isinstance(error, PermissionDeniedError | PermissionError):
        return ErrorClass.PERMISSION
    # AgentInputError is a UsageError; a pydantic ValidationError is an input schema's refusal.
    if isinstance(error, UsageError | ValidationError):
        return ErrorClass.INVALID_INPUT
    if isinstance(error, RunError):
        return ErrorClass.TRANSIENT if error.retryable else ErrorClass.PERMANENT
    if _is_network_error(error):
        return ErrorClass.TRANSIENT
    return ErrorClass.PERMANENT


def _is_network_error(error: BaseException) -> bool:
    if isinstance(error, ConnectionError | socket.gaierror | socket.herror):
        return True
    return isinstance(error, OSError) and error.errno in _TRANSIENT_ERRNOS
