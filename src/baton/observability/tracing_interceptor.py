"""`TracingInterceptor`: an execution's root span, its attempts' spans, and span events.

The `RunInterceptor` (see `baton.core.interceptors`) that `baton.observability.tracing`
builds: a root span around each run of an execution, current in every step worker; a span
per attempt of a step, current while its agent runs (made by `SpanRecorder`, see
`tracing_fast`), which can also carry the step's log context (`carry_log_context`); and the
committed events that matter (retries, recovery rungs, approvals, failures, waits) as span
events, on the failed attempt's span (kept open until the loop's decision) or on the root.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable, Sequence
from contextvars import Token
from types import TracebackType
from typing import TYPE_CHECKING

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.trace import Span, SpanContext, Status, StatusCode, Tracer
from opentelemetry.util.types import AttributeValue

from baton.events import (
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    RunEvent,
    StepFailed,
    StepInDoubt,
    StepRecovery,
    StepRetrying,
)
from baton.observability.logs_context import ATTEMPT_KEY, LogContext
from baton.observability.tracing_context import CONTEXT_VAR, SPAN_KEY, make_current, restore
from baton.observability.tracing_export import EXECUTION_ID, WORKSPACE_ID
from baton.observability.tracing_fast import Owner, SpanRecorder
from baton.observability.tracing_redact import Redactor
from baton.store.traces import TraceStore

if TYPE_CHECKING:
    from baton.observability.logs_interceptor import LoggingInterceptor

__all__ = ["AttemptLogContext", "TracingInterceptor"]

AttemptLogContext = Callable[[str, str, str, object], LogContext]
"""``(execution_id, step_id, agent, span) -> LogContext``: an attempt's log context
(`baton.observability.logs_interceptor.LoggingInterceptor.attempt_context`)."""

_MAX_MESSAGE_CHARS = 500
_MAX_STACK_CHARS = 8000


class TracingInterceptor:
    """A `RunInterceptor` (see `baton.core.interceptors`) that makes an execution's spans."""

    def __init__(
        self,
        tracer: Tracer,
        *,
        recorder: SpanRecorder | None = None,
        redactor: Redactor | None = None,
        traces: TraceStore | None = None,
    ) -> None:
        """Make spans with `tracer` (the roots) and `recorder` (the attempts).

        Args:
            tracer: Makes the root spans (and the attempts' when there is no `recorder`).
            recorder: Makes the attempts' spans cheaply (see `tracing_fast`).
            redactor: Masks secrets in error messages (default: token-like values only).
            traces: Where the finished spans are kept, for readers (the API, the CLI).
        """
        self.tracer = tracer
        """Makes the spans."""
        self.recorder = recorder
        """Makes the attempts' spans, when set."""
        self.traces = traces
        """Where the spans it makes are kept (None: not in a database)."""
        self.redact = redactor or Redactor()
        """Masks secrets in texts that go into spans."""
        self._roots: dict[str, Span] = {}
        # The roots' contexts and executions (the owner of every attempt's span), read once
        # per run rather than once per attempt.
        self._root_contexts: dict[str, tuple[SpanContext, Owner]] = {}
        # Attempts that raised, per execution and step, with the time they ended: their
        # span stays open until the loop's decision (retry, rung, fail) is committed.
        self._failed: dict[str, dict[str, tuple[Span, int]]] = {}
        # Makes each attempt's log context, carried with its span (`carry_log_context`).
        self._log_context: AttemptLogContext | None = None

    def carry_log_context(self, logging: LoggingInterceptor) -> bool:
        """Carry `logging`'s step context in each attempt's context, with the span.

        Both interceptors would otherwise set a context variable around every attempt (the
        span, then the log context), and undo it: the log context rides instead in the
        OpenTelemetry context made for the span, under `ATTEMPT_KEY`, and `logging` leaves
        attempts alone (its ``watches_attempts`` is False). Only with the default runtime
        context, where this interceptor writes that context itself; False (nothing done)
        with any other. Call it before the interceptors are handed to an executor.
        """
        if CONTEXT_VAR is None:
            return False
        self._log_context = logging.attempt_context
        logging.watches_attempts = False
        return True

    def execution(self, execution_id: str, workspace_id: str) -> _ExecutionSpan:
        """The root span of one run of an execution, current while it runs."""
        return _ExecutionSpan(self, execution_id, workspace_id)

    def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> _AttemptSpan:
        """The span of one attempt of a step (its agent call), current while it runs."""
        return _AttemptSpan(self, execution_id, step_id, agent, attempt)

    def enter_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> _AttemptState:
        """Start the attempt's span and make it current (`baton.core.interceptors.AttemptHooks`)."""
        name = "step " + step_id
        attributes: dict[str, AttributeValue] = {
            "baton.step_id": step_id,
            "baton.agent": agent,
            "baton.attempt": attempt,
        }
        recorder = self.recorder
        span = None
        if recorder is not None:
            # The parent is the execution's root span, which is current in every step worker
            # (they run inside the task that made it current): its context, kept by execution
            # id once per run, is cheaper than reading the current one (None: read it).
            root = self._root_contexts.get(execution_id)
            if root is not None:
                span = recorder.start_child(name, attributes, root[0], root[1])
            else:
                span = recorder.start(name, attributes)
        if span is None:  # no recorder, or no sampled execution span to hang it on
            span = self.tracer.start_span(name, attributes=attributes)
        var = CONTEXT_VAR
        if var is None:
            return span, make_current(span), execution_id, step_id
        # `make_current` written out (see `tracing_context`): a call less per attempt.
        values = var.get().copy()
        values[SPAN_KEY] = span
        if (log_context := self._log_context) is not None:
            values[ATTEMPT_KEY] = log_context(execution_id, step_id, agent, span)
        return span, var.set(Context(values)), execution_id, step_id

    def exit_attempt(self, state: object, exc: BaseException | None) -> None:
        """End the attempt's span; a failed one waits for the loop's decision (see `events`)."""
        # `state` is what `enter_attempt` returned (declared, not `cast`: a call per attempt).
        attempt: _AttemptState = state  # pyright: ignore[reportAssignmentType]
        span, token, execution_id, step_id = attempt
        var = CONTEXT_VAR
        if var is None:
            restore(token)
        else:  # `restore` written out
            try:  # noqa: SIM105 (`contextlib.suppress` is a context manager per attempt)
                var.reset(token)
            except (ValueError, RuntimeError):  # another context's token: as `detach`
                pass
        if exc is None:
            span.end()
            return
        ended = time.time_ns()
        try:
            self._record_error(span, exc)
        finally:
            self._failed.setdefault(execution_id, {})[step_id] = (span, ended)

    def events(self, events: Sequence[RunEvent]) -> None:
        """Turn retries, recovery rungs, approvals and waits into span events; never raises."""
        touched: list[tuple[str, str]] | None = None
        for event in events:
            if event.kind not in _WATCHED:
                continue
            try:
                key = self._on_event(event)
            except Exception:  # telemetry must never fail a run
                continue
            if key is not None:
                touched = touched or []
                touched.append(key)
        if touched:
            for execution_id, step_id in touched:
                self._end_failed(execution_id, step_id)

    def _on_event(self, event: RunEvent) -> tuple[str, str] | None:
        """Record one event; the (execution, step) of a failed attempt it decided, if any."""
        eid = event.execution_id
        root = self._roots.get(eid)
        if isinstance(event, ExecutionStarted | ExecutionFinished | ExecutionWaiting):
            if root is not None:
                self._on_execution_event(root, event)
            return None
        attributes = _step_event_attributes(event)
        if attributes is None:
            return None
        sid = getattr(event, "step_id", "")
        failed = self._failed.get(eid, {}).get(sid)
        if failed is not None:
            failed[0].add_event(event.kind, attributes, _ns(event))
            return (eid, sid)
        if root is not None:
            attributes["baton.step_id"] = sid
            root.add_event(event.kind, attributes, _ns(event))
        return None

    def _on_execution_event(
        self, root: Span, event: ExecutionStarted | ExecutionFinished | ExecutionWaiting
    ) -> None:
        if isinstance(event, ExecutionStarted):
            root.set_attributes(
                {"baton.step_count": event.step_count, "baton.resumed": event.resumed}
            )
        elif isinstance(event, ExecutionFinished):
            root.set_attribute("baton.status", event.status.value)
            if event.status is ExecutionStatus.FAILED:
                root.set_status(Status(StatusCode.ERROR, self._message(event.error or "")))
        else:
            root.set_attribute("baton.status", ExecutionStatus.WAITING.value)
            root.add_event("execution_waiting", timestamp=_ns(event))

    def _end_failed(self, execution_id: str, step_id: str) -> None:
        found = self._failed.get(execution_id, {}).pop(step_id, None)
        if found is not None:
            span, ended = found
            span.end(end_time=ended)

    def _message(self, text: str) -> str:
        return self.redact(text)[:_MAX_MESSAGE_CHARS]

    def _record_error(self, span: Span, exc: BaseException) -> None:
        """Mark `span` failed by `exc`: its type, and its message and stack redacted."""
        name = type(exc).__qualname__
        if not isinstance(exc, Exception):  # cancelled (a timeout, or the run was cancelled)
            span.set_status(Status(StatusCode.ERROR, name))
            span.set_attribute("error.type", name)
            return
        message = self._message(_exception_message(exc))
        span.set_status(Status(StatusCode.ERROR, f"{name}: {message}" if message else name))
        span.set_attribute("error.type", name)
        stack = "".join(traceback.format_exception(exc))[-_MAX_STACK_CHARS:]
        span.add_event(
            "exception",
            {
                "exception.type": f"{type(exc).__module__}.{name}",
                "exception.message": message,
                "exception.stacktrace": self.redact(stack),
            },
        )


_AttemptState = tuple[Span, Token[otel_context.Context], str, str]
"""An attempt's span, the context token that made it current, its execution and step."""

_WATCHED = frozenset(
    {
        "execution_started",
        "execution_finished",
        "execution_waiting",
        "step_retrying",
        "step_recovery",
        "step_failed",
        "step_in_doubt",
        "approval",
    }
)


def _step_event_attributes(event: RunEvent) -> dict[str, AttributeValue] | None:
    """The attributes of a step event's span event (ids, counts, classes: no free text)."""
    if isinstance(event, StepRetrying):
        return {"baton.attempt": event.attempt, "baton.delay_s": event.delay_s}
    if isinstance(event, StepRecovery):
        return {
            "baton.rung": event.rung,
            "baton.error_class": event.error_class,
            "baton.agent": event.agent,
        }
    if isinstance(event, StepFailed):
        return {"baton.error_type": event.error_type, "baton.attempts": event.attempts}
    if isinstance(event, ApprovalRequested | StepInDoubt):
        return {}
    return None


def _ns(event: RunEvent) -> int:
    return int(event.at.timestamp() * 1e9)


def _exception_message(exc: Exception) -> str:
    message = getattr(exc, "message", None)  # BatonError keeps its text without the hint
    return message if isinstance(message, str) else str(exc)


class _ExecutionSpan:
    """The root span, current while the run goes on.

    Its parent is the current context: an API request's remote span when the run was
    started (or resumed) by a request that carried ``traceparent``.
    """

    __slots__ = ("_eid", "_interceptor", "_span", "_token", "_wid")

    def __init__(self, interceptor: TracingInterceptor, execution_id: str, workspace_id: str):
        self._interceptor = interceptor
        self._eid = execution_id
        self._wid = workspace_id

    async def __aenter__(self) -> Span:
        interceptor = self._interceptor
        span = interceptor.tracer.start_span(
            "execution", attributes={EXECUTION_ID: self._eid, WORKSPACE_ID: self._wid}
        )
        self._span = span
        self._token = otel_context.attach(trace.set_span_in_context(span))
        interceptor._roots[self._eid] = span  # pyright: ignore[reportPrivateUsage]
        interceptor._root_contexts[self._eid] = (span.get_span_context(), (self._eid, self._wid))  # pyright: ignore[reportPrivateUsage]
        return span

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        interceptor = self._interceptor
        otel_context.detach(self._token)
        # Attempts whose decision never came (the run was cancelled) end with the run.
        for span, ended in interceptor._failed.pop(self._eid, {}).values():  # pyright: ignore[reportPrivateUsage]
            span.end(end_time=ended)
        interceptor._roots.pop(self._eid, None)  # pyright: ignore[reportPrivateUsage]
        interceptor._root_contexts.pop(self._eid, None)  # pyright: ignore[reportPrivateUsage]
        if exc is not None:
            interceptor._record_error(self._span, exc)  # pyright: ignore[reportPrivateUsage]
        self._span.end()


class _AttemptSpan:
    """`TracingInterceptor.step_attempt`: its `AttemptHooks` as a context manager."""

    __slots__ = ("_agent", "_attempt", "_eid", "_interceptor", "_sid", "_state")

    def __init__(
        self,
        interceptor: TracingInterceptor,
        execution_id: str,
        step_id: str,
        agent: str,
        attempt: int,
    ) -> None:
        self._interceptor = interceptor
        self._eid = execution_id
        self._sid = step_id
        self._agent = agent
        self._attempt = attempt

    async def __aenter__(self) -> Span:
        self._state = self._interceptor.enter_attempt(
            self._eid, self._sid, self._agent, self._attempt
        )
        return self._state[0]

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._interceptor.exit_attempt(self._state, exc)
