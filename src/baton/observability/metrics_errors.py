"""Which `ErrorClass` an error of a failed attempt is, for the error metrics.

`classify` is the recovery ladder's own (`baton.error_classes`): it reads an error's type
and attributes only, never its message, so the class is safe as a metric label.

`class_of_name` is the fallback for a failure whose exception the metrics never saw (a step
refused at its approval gate): it knows the class names of `baton.errors` and the builtins
that `classify` treats specially, and calls anything else ``permanent``.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from baton.error_classes import classify
from baton.errors import (
    ErrorClass,
)

__all__ = ["class_of_name", "classify"]

_BY_NAME: Mapping[str, ErrorClass] = MappingProxyType(
    {
        "RateLimitedError": ErrorClass.RATE_LIMITED,
        "StepTimeoutError": ErrorClass.TIMEOUT,
        "TimeoutError": ErrorClass.TIMEOUT,
        "PermissionDeniedError": ErrorClass.PERMISSION,
        "PermissionError": ErrorClass.PERMISSION,
        "ValidationError": ErrorClass.INVALID_INPUT,
        "UsageError": ErrorClass.INVALID_INPUT,
        "ConfigError": ErrorClass.INVALID_INPUT,
        "AgentInputError": ErrorClass.INVALID_INPUT,
        "UnknownAgentError": ErrorClass.INVALID_INPUT,
        "NotFoundError": ErrorClass.INVALID_INPUT,
        "ConnectionError": ErrorClass.TRANSIENT,
        "ConnectionRefusedError": ErrorClass.TRANSIENT,
        "ConnectionResetError": ErrorClass.TRANSIENT,
        "ConnectionAbortedError": ErrorClass.TRANSIENT,
        "BrokenPipeError": ErrorClass.TRANSIENT,
    }
)


def class_of_name(error_type: str) -> ErrorClass:
    """The class of an error known only by its class name (``StepFailed.error_type``).

    Approval errors (``Approval*Error``) are usage errors, hence ``invalid_input``.
    """
    found = _BY_NAME.get(error_type)
    if found is not None:
        return found
    if error_type.startswith("Approval") and error_type.endswith("Error"):
        return ErrorClass.INVALID_INPUT
    return ErrorClass.PERMANENT
