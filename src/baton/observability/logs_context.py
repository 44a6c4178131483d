"""What a log record is about: the execution, step and workspace in context, and the trace.

`LoggingInterceptor` sets the context around each execution and each step attempt; every
record logged inside (by baton's own loggers, by an agent's library) picks it up. A task
started inside inherits it, as context variables are copied into new tasks. With tracing
on, the tracing interceptor carries an attempt's context with its span instead (see
`current_context`). Trace and span ids come from the current OpenTelemetry span (the
tracing interceptor makes its spans current); with no valid span current they are None.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Generator
from contextvars import ContextVar, Token
from typing import Final, NamedTuple, Protocol

from baton.observability.tracing_context import CONTEXT_VAR, current_span

__all__ = [
    "ATTEMPT_KEY",
    "LogContext",
    "current_context",
    "current_span_context",
    "current_trace",
    "hex_ids",
    "log_context",
    "reset_context",
    "set_context",
    "span_hex_ids",
]


class LogContext(NamedTuple):
    """The ids a record carries (a named tuple: made for every step attempt, so it is cheap)."""

    execution_id: str | None = None
    """The execution being run."""
    workspace_id: str | None = None
    """Its workspace."""
    step_id: str | None = None
    """The step whose attempt is running."""


class SpanIds(Protocol):
    """The ids of a span (an OpenTelemetry ``SpanContext`` has them)."""

    @property
    def trace_id(self) -> int:
        """The trace's id."""
        ...

    @property
    def span_id(self) -> int:
        """The span's id."""
        ...

    @property
    def is_valid(self) -> bool:
        """Whether the ids are those of a real span."""
        ...


class HasSpanIds(Protocol):
    """A span (an OpenTelemetry ``Span`` is one)."""

    def get_span_context(self) -> SpanIds:
        """Its ids."""
        ...


_EMPTY = LogContext()
_CONTEXT: ContextVar[LogContext] = ContextVar("baton_log_context", default=_EMPTY)
_OTEL_CONTEXT: Final = CONTEXT_VAR


ATTEMPT_KEY: Final = "baton-log-context"
"""Where a step attempt's `LogContext` rides in the OpenTelemetry context, when the tracing
interceptor carries it (`TracingInterceptor.carry_log_context`): one context write per
attempt for the span and the log context."""


def current_context() -> LogContext:
    """The context of the running code (empty outside any execution).

    Within a step attempt whose log context the tracing interceptor carries, that one: the
    variable here then holds the execution's context, without a step.
    """
    context = _CONTEXT.get()
    if context.step_id is None and _OTEL_CONTEXT is not None:
        attempt = _OTEL_CONTEXT.get().get(ATTEMPT_KEY)
        if type(attempt) is LogContext:
            return attempt
    return context


@contextlib.contextmanager
def log_context(
    *,
    execution_id: str | None = None,
    workspace_id: str | None = None,
    step_id: str | None = None,
) -> Generator[LogContext]:
    """Set context for the block: given ids replace the current ones, the others stay."""
    now = current_context()
    ctx = LogContext(
        execution_id=execution_id if execution_id is not None else now.execution_id,
        workspace_id=workspace_id if workspace_id is not None else now.workspace_id,
        step_id=step_id if step_id is not None else now.step_id,
    )
    token = _CONTEXT.set(ctx)
    try:
        yield ctx
    finally:
        _CONTEXT.reset(token)


set_context: Callable[[LogContext], Token[LogContext]] = _CONTEXT.set
"""Set a context (the fast path of `log_context`); returns the token for `reset_context`.

The context variable's own method, not a function around it: it runs for every attempt."""

reset_context: Callable[[Token[LogContext]], None] = _CONTEXT.reset
"""Undo a `set_context`."""


def current_trace() -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of the current OpenTelemetry span, if it is valid."""
    return hex_ids(current_span_context())


def current_span_context() -> SpanIds | None:
    """The context of the current OpenTelemetry span, if it is valid."""
    span_context = current_span().get_span_context()
    return span_context if span_context.is_valid else None


def span_hex_ids(span: HasSpanIds) -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex of `span`, if its context is valid."""
    span_context = span.get_span_context()
    return hex_ids(span_context) if span_context.is_valid else None


def hex_ids(span_context: SpanIds | None) -> tuple[str, str] | None:
    """``(trace_id, span_id)`` in hex (None for None)."""
    if span_context is None:
        return None
    return f"{span_context.trace_id:032x}", f"{span_context.span_id:016x}"
