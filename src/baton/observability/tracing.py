"""Tracing: OpenTelemetry spans of executions, steps, agent, model and store calls.

What a trace of an execution holds::

    execution                      root: baton.execution_id, baton.workspace_id, step count
      store acquire_lease          store transactions (TracedExecutionStore)
      store append                 one per group commit, baton.event_count
      step fetch                   one per attempt of a step (the agent call): agent, attempt;
        GET                          outbound HTTP of the agent (traceparent goes out)
      step summarize               an attempt that raised: status ERROR, an exception event,
                                   and the loop's decision as an event (step_retrying,
                                   step_recovery with its rung, step_in_doubt, step_failed)

plus span events on the root for approvals, steps put in doubt on resume and
``execution_waiting``; ``plan`` spans (`Tracing.planning`) and model calls
(`Tracing.model_call`, GenAI semantic conventions) where the planner makes them.

It is wired as a `RunInterceptor` (`TracingInterceptor`, see `baton.core.interceptors`)
around the executor and the agent calls, and a store wrapper (`TracedExecutionStore`), not
as calls spread through the code. `setup_tracing` builds all of it from the settings:

- the provider is baton's own (`Tracing.provider`); the global one is left alone;
- finished spans of executions go to the database (`TraceStore`, through baton's own
  processor, `TraceStoreProcessor`) unless ``BATON_TRACE_DB=false``, and to an OTLP/HTTP collector
  when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set;
  the SDK reads the other standard ``OTEL_*`` variables (headers, sampler, service name);
- the trace context comes in from API requests and goes out on httpx calls (see
  `baton.observability.tracing_http`).

Cost: one span per attempt and one per group commit, with few attributes and no inputs or
outputs, made by `SpanRecorder` (`tracing_fast`: a few microseconds, against some 15 for the
SDK's tracer); batches are exported on the processor's thread, never on the hot path. Store
transactions become spans when they take 1 ms or more (``BATON_TRACE_STORE_MIN_MS``) or fail.

Secrets: spans carry ids, names, counts and the error *type* of a failure; the texts that
can come from outside (an exception's message and stack, a URL) are redacted (`Redactor`).

Parentage: an execution's root span is a child of whatever span is current where the run
starts. The API's `TraceContextMiddleware` makes a request's ``traceparent`` current, and a
run started or resumed by the request runs in a task started from its handler, which
inherits it; a run taken up at start-up (`recover`) starts a trace of its own. Each run of
an execution (a resume) is one root span, so an execution's kept spans may form several
trees (see `baton.store.traces.span_tree`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import traceback
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from contextvars import Token
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from types import TracebackType
from typing import TYPE_CHECKING, Final

import anyio
from anyio.lowlevel import current_token
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import (
    NoOpTracer,
    Span,
    SpanContext,
    SpanKind,
    Status,
    StatusCode,
    Tracer,
)
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
from baton.observability.tracing_export import (
    EXECUTION_ID,
    WORKSPACE_ID,
    TraceStoreProcessor,
)
from baton.observability.tracing_fast import Owner, SpanRecorder
from baton.observability.tracing_http import (
    HttpTarget,
    TraceContextMiddleware,
    instrument_httpx,
)
from baton.observability.tracing_redact import Redactor
from baton.observability.tracing_store import TracedExecutionStore
from baton.settings import Settings
from baton.store.protocol import ExecutionStore
from baton.store.traces import TraceStore

if TYPE_CHECKING:
    from baton.observability.logs_interceptor import LoggingInterceptor

__all__ = [
    "GEN_AI_OPERATION_NAME",
    "GEN_AI_PROVIDER_NAME",
    "GEN_AI_REQUEST_MAX_TOKENS",
    "GEN_AI_REQUEST_MODEL",
    "GEN_AI_REQUEST_TEMPERATURE",
    "GEN_AI_RESPONSE_FINISH_REASONS",
    "GEN_AI_RESPONSE_MODEL",
    "GEN_AI_SYSTEM",
    "GEN_AI_USAGE_INPUT_TOKENS",
    "GEN_AI_USAGE_OUTPUT_TOKENS",
    "TRACER_NAME",
    "ModelCall",
    "TraceContextMiddleware",
    "TracedExecutionStore",
    "Tracing",
    "TracingInterceptor",
    "model_call_span",
    "planning_span",
    "service_resource",
    "setup_tracing",
]

log = logging.getLogger("baton.observability.tracing")

TRACER_NAME = "baton"
"""The instrumentation scope of baton's spans."""

# GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/).
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_SYSTEM: Final = "gen_ai.system"
"""The provider under its older name, still read by many backends."""
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"

_MAX_MESSAGE_CHARS = 500

AttemptLogContext = Callable[[str, str, str, object], LogContext]
"""``(execution_id, step_id, agent, span) -> LogContext``: an attempt's log context
(`baton.observability.logs_interceptor.LoggingInterceptor.attempt_context`)."""
_MAX_STACK_CHARS = 8000


# --- the interceptor ------------------------------------------------------------------------


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


# --- planning and model calls ---------------------------------------------------------------


@contextlib.contextmanager
def planning_span(tracer: Tracer, *, planner: str) -> Generator[Span]:
    """A ``plan`` span around planning a request, current while it runs.

    The request's text is not recorded (it may hold anything); set ``baton.step_count`` on
    the yielded span once the plan is made. An exception marks the span failed (its type
    only) and goes on.
    """
    with tracer.start_as_current_span(
        "plan",
        attributes={"baton.planner": planner},
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


@dataclass(slots=True)
class ModelCall:
    """A model call's span; tell it what the provider answered."""

    span: Span
    """The span (a CLIENT span named ``{operation} {model}``)."""

    def record_usage(
        self,
        *,
        input_tokens: int | None = None,
        output_tokens: int | None = None,
        response_model: str | None = None,
        finish_reasons: Sequence[str] = (),
    ) -> None:
        """Record the tokens used and the model that answered."""
        attributes: dict[str, AttributeValue] = {}
        if input_tokens is not None:
            attributes[GEN_AI_USAGE_INPUT_TOKENS] = input_tokens
        if output_tokens is not None:
            attributes[GEN_AI_USAGE_OUTPUT_TOKENS] = output_tokens
        if response_model is not None:
            attributes[GEN_AI_RESPONSE_MODEL] = response_model
        if finish_reasons:
            attributes[GEN_AI_RESPONSE_FINISH_REASONS] = list(finish_reasons)
        self.span.set_attributes(attributes)


@contextlib.contextmanager
def model_call_span(
    tracer: Tracer,
    *,
    provider: str,
    model: str,
    operation: str = "chat",
    max_tokens: int | None = None,
    temperature: float | None = None,
) -> Generator[ModelCall]:
    """A span around one call to a language model, with the GenAI semantic conventions.

    ```python
    with model_call_span(tracer, provider="openai", model="gpt-4o") as call:
        reply = await client.chat(...)
        call.record_usage(input_tokens=reply.usage.input, output_tokens=reply.usage.output)
    ```

    Prompts and completions are not recorded. An exception marks the span failed with its
    type (``error.type``) and goes on.

    Args:
        tracer: Makes the span.
        provider: ``gen_ai.provider.name`` (and ``gen_ai.system``), e.g. ``openai``,
            ``anthropic``, ``gcp.gemini``, ``ollama``.
        model: ``gen_ai.request.model``.
        operation: ``gen_ai.operation.name``: ``chat``, ``text_completion``,
            ``embeddings``...
        max_tokens: ``gen_ai.request.max_tokens``, if set.
        temperature: ``gen_ai.request.temperature``, if set.
    """
    attributes: dict[str, AttributeValue] = {
        GEN_AI_OPERATION_NAME: operation,
        GEN_AI_PROVIDER_NAME: provider,
        GEN_AI_SYSTEM: provider,
        GEN_AI_REQUEST_MODEL: model,
    }
    if max_tokens is not None:
        attributes[GEN_AI_REQUEST_MAX_TOKENS] = max_tokens
    if temperature is not None:
        attributes[GEN_AI_REQUEST_TEMPERATURE] = temperature
    with tracer.start_as_current_span(
        f"{operation} {model}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        try:
            yield ModelCall(span)
        except BaseException as exc:
            span.set_status(Status(StatusCode.ERROR, type(exc).__qualname__))
            span.set_attribute("error.type", type(exc).__qualname__)
            raise


# --- assembly -------------------------------------------------------------------------------


@dataclass(slots=True, eq=False)
class Tracing:
    """Everything tracing needs, built by `setup_tracing`; close it with `shutdown`."""

    tracer: Tracer
    """Makes baton's spans (a no-op tracer when tracing is off)."""
    recorder: SpanRecorder | None = None
    """Makes the hot path's spans (attempts, store transactions) cheaply."""
    provider: TracerProvider | None = None
    """baton's own provider (None when tracing is off); the global one is not set."""
    interceptor: TracingInterceptor | None = None
    """Goes in `ExecutorOptions.interceptors` (None when tracing is off)."""
    traces: TraceStore | None = None
    """Where spans of executions are kept (None: not kept)."""
    store_min_duration_s: float = 0.0
    """Store transactions quicker than this make no span (``BATON_TRACE_STORE_MIN_MS``)."""
    _release: list[Callable[[], None]] = field(default_factory=list[Callable[[], None]])

    @property
    def enabled(self) -> bool:
        """Whether spans are made at all (``BATON_TRACING``)."""
        return self.provider is not None

    def wrap_store(self, store: ExecutionStore, *, system: str | None = None) -> ExecutionStore:
        """`store` with spans for its transactions (unchanged when tracing is off).

        A store whose commits never suspend (the in-memory one) is left unchanged too: its
        "transactions" are dictionary updates, never slow and not failing for reasons a
        span would show, and a wrapper would still cost every commit a coroutine and two
        clock reads (some 2% of a no-op step).

        Args:
            store: The execution store.
            system: ``sqlite`` or ``postgresql`` (``db.system.name``); None in memory.
        """
        if not self.enabled or store.append_never_suspends:
            return store
        return TracedExecutionStore(
            store,
            self.tracer,
            system=system,
            recorder=self.recorder,
            min_duration_s=self.store_min_duration_s,
        )

    def planning(self, *, planner: str) -> contextlib.AbstractContextManager[Span]:
        """A ``plan`` span (see `planning_span`)."""
        return planning_span(self.tracer, planner=planner)

    def model_call(
        self, *, provider: str, model: str, operation: str = "chat"
    ) -> contextlib.AbstractContextManager[ModelCall]:
        """A model call's span (see `model_call_span`)."""
        return model_call_span(self.tracer, provider=provider, model=model, operation=operation)

    async def flush(self) -> None:
        """Export every finished span now (on a worker thread: the loop must stay free)."""
        provider = self.provider
        if provider is not None:
            await anyio.to_thread.run_sync(provider.force_flush)

    async def shutdown(self) -> None:
        """Export what is left, stop the exporters and let httpx calls go untraced."""
        provider, self.provider = self.provider, None
        for release in self._release:
            release()
        self._release.clear()
        if provider is not None:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(provider.shutdown)


def setup_tracing(
    settings: Settings,
    traces: TraceStore | None = None,
    *,
    secrets: Iterable[str] = (),
    processors: Sequence[SpanProcessor] = (),
) -> Tracing:
    """Build tracing from the settings; call in the event loop that owns `traces`.

    Args:
        settings: ``tracing`` (on or off) and ``trace_db`` (keep spans in `traces`).
        traces: Where to keep the spans of executions (None: nowhere).
        secrets: Values to mask wherever a span could show them (the agents' secrets).
        processors: More span processors (tests: a ``SimpleSpanProcessor`` over an
            ``InMemorySpanExporter``).

    Returns:
        The `Tracing`; `Tracing.shutdown` it when done (it flushes the spans left).
    """
    if not settings.tracing:
        return Tracing(tracer=NoOpTracer())
    env = os.environ
    redactor = Redactor(secrets)
    provider = TracerProvider(resource=service_resource(env), shutdown_on_exit=False)
    # The recorder hands its spans to the same processors as the provider.
    shared: list[SpanProcessor] = []

    def add(processor: SpanProcessor) -> None:
        provider.add_span_processor(processor)
        shared.append(processor)

    kept = traces if settings.trace_db else None
    if kept is not None:
        add(_trace_store_processor(kept, env))
    if _otlp_configured(env):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        add(_batch(OTLPSpanExporter(), env))
    for processor in processors:
        add(processor)
    tracer = provider.get_tracer(TRACER_NAME)
    recorder = SpanRecorder(
        shared,
        resource=provider.resource,
        id_generator=provider.id_generator,
        scope=InstrumentationScope(TRACER_NAME),
        redact=redactor,
    )
    interceptor = TracingInterceptor(tracer, recorder=recorder, redactor=redactor, traces=kept)
    tracing = Tracing(
        tracer=tracer,
        recorder=recorder,
        provider=provider,
        interceptor=interceptor,
        traces=kept,
        store_min_duration_s=settings.trace_store_min_ms / 1000,
    )
    tracing._release.append(instrument_httpx(HttpTarget(provider, redactor)))  # pyright: ignore[reportPrivateUsage]
    return tracing


def service_resource(env: Mapping[str, str]) -> Resource:
    """The OpenTelemetry resource of baton's traces and metrics.

    ``service.name`` (unless ``OTEL_SERVICE_NAME`` says) and ``service.version``, plus what
    ``OTEL_RESOURCE_ATTRIBUTES`` adds.
    """
    attributes: dict[str, str] = {}
    with contextlib.suppress(PackageNotFoundError):  # a source tree that is not installed
        attributes["service.version"] = version("baton")
    if not env.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = "baton"
    return Resource.create(attributes)


def _otlp_configured(env: Mapping[str, str]) -> bool:
    if env.get("OTEL_TRACES_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def _trace_store_processor(traces: TraceStore, env: Mapping[str, str]) -> TraceStoreProcessor:
    """The processor that keeps spans of executions in `traces`, bound to the running loop.

    It reads the ``OTEL_BSP_*`` variables as the SDK's batch processor does (a value that is
    not a positive whole number is ignored, with a warning); unset, `_batch`'s defaults.
    """
    return TraceStoreProcessor(
        traces,
        current_token(),
        max_queue_size=_env_int(env, "OTEL_BSP_MAX_QUEUE_SIZE", 32768),
        schedule_delay_s=_env_int(env, "OTEL_BSP_SCHEDULE_DELAY", 1000) / 1000,
        max_batch_size=_env_int(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 2048),
    )


def _env_int(env: Mapping[str, str], var: str, default: int) -> int:
    raw = env.get(var, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value > 0:
        return value
    log.warning("%s=%r is not a positive whole number: %d is used instead", var, raw, default)
    return default


def _batch(exporter: SpanExporter, env: Mapping[str, str]) -> BatchSpanProcessor:
    """A batch processor over `exporter`.

    Unless the ``OTEL_BSP_*`` variables say otherwise, its queue holds a 10,000-step burst's
    spans without dropping any, and it exports every second or every 2048 spans, whichever
    comes first (one transaction per batch).
    """

    def default(var: str, value: int) -> int | None:
        return None if env.get(var) else value  # None: the SDK reads the variable

    return BatchSpanProcessor(
        exporter,
        max_queue_size=default("OTEL_BSP_MAX_QUEUE_SIZE", 32768),
        schedule_delay_millis=default("OTEL_BSP_SCHEDULE_DELAY", 1000),
        max_export_batch_size=default("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", 2048),
    )
