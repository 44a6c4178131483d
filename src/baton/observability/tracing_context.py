"""The current OpenTelemetry span, set and read on the hot path without the API's layers.

The executor makes each step attempt's span current while the agent runs (so the agent's
HTTP and model calls nest under it, and ``traceparent`` goes out), and the log interceptor
reads it back once per attempt. Through the API that is ``attach(set_span_in_context(span))``
and ``detach``: five Python calls and a warning-logging ``try`` around each attempt, for a
context variable set and reset. With the default runtime context (``contextvars``, what
``OTEL_PYTHON_CONTEXT`` names unless set otherwise), these helpers work on that variable
directly: the same `Context` values, made the same way (a copy of the current one with the
span added), in about two thirds of the time. With any other runtime context they go
through the API.
"""

from __future__ import annotations

from contextvars import ContextVar, Token
from typing import Final

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.context.contextvars_context import ContextVarsRuntimeContext
from opentelemetry.trace import INVALID_SPAN, Span
from opentelemetry.trace.propagation import _SPAN_KEY  # pyright: ignore[reportPrivateUsage]

from baton.observability.tracing_fast import FastSpan

__all__ = ["CONTEXT_VAR", "SPAN_KEY", "current_span", "make_current", "restore"]


def _context_var() -> ContextVar[Context] | None:
    """The variable that holds the current context, when it is the default runtime's."""
    runtime = otel_context._RUNTIME_CONTEXT  # pyright: ignore[reportPrivateUsage]
    if type(runtime) is not ContextVarsRuntimeContext:
        return None
    var = getattr(runtime, "_current_context", None)
    return var if isinstance(var, ContextVar) else None


CONTEXT_VAR: Final = _context_var()
"""The variable holding the current context (None: not the default runtime context).

For a caller that writes `make_current` and `restore` out, once per step attempt."""
SPAN_KEY: Final = _SPAN_KEY
"""The key of the current span in a `Context`."""
_VAR: Final = CONTEXT_VAR
_KEY: Final = _SPAN_KEY


def make_current(span: Span) -> Token[Context]:
    """Make `span` the current span (in a copy of the current context); undo with `restore`."""
    var = _VAR
    if var is None:
        return otel_context.attach(trace.set_span_in_context(span))
    values = var.get().copy()
    values[_KEY] = span
    return var.set(Context(values))


def restore(token: Token[Context]) -> None:
    """Put back the context that was current before `make_current`; never raises."""
    var = _VAR
    if var is None:
        otel_context.detach(token)
        return
    # Not `contextlib.suppress`: a context manager per attempt costs more than the reset.
    try:  # noqa: SIM105
        var.reset(token)
    except (ValueError, RuntimeError):  # another context's token, or one used: as `detach`
        pass


def current_span() -> Span:
    """The current span (`trace.get_current_span`): the invalid span when there is none."""
    var = _VAR
    if var is None:
        return trace.get_current_span()
    span = var.get().get(_KEY)
    # The attempts' spans first: `isinstance` against the abstract `Span` is the slow part.
    if type(span) is FastSpan or isinstance(span, Span):
        return span
    return INVALID_SPAN
