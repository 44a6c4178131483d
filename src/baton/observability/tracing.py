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

It is wired as a `RunInterceptor` (`TracingInterceptor` in `tracing_interceptor`, see
`baton.core.interceptors`) around the executor and the agent calls, and a store wrapper
(`TracedExecutionStore`), not as calls spread through the code; the planning and model-call
spans are in `tracing_calls`. This module assembles them: `setup_tracing` builds all of it
from the settings (and re-exports the parts' public names):

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version

import anyio
from anyio.lowlevel import current_token
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NoOpTracer, Span, Tracer

from baton.observability.tracing_calls import (
    GEN_AI_OPERATION_NAME,
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MAX_TOKENS,
    GEN_AI_REQUEST_MODEL,
    GEN_AI_REQUEST_TEMPERATURE,
    GEN_AI_RESPONSE_FINISH_REASONS,
    GEN_AI_RESPONSE_MODEL,
    GEN_AI_SYSTEM,
    GEN_AI_USAGE_INPUT_TOKENS,
    GEN_AI_USAGE_OUTPUT_TOKENS,
    ModelCall,
    model_call_span,
    planning_span,
)
from baton.observability.tracing_export import TraceStoreProcessor
from baton.observability.tracing_fast import SpanRecorder
from baton.observability.tracing_http import (
    HttpTarget,
    TraceContextMiddleware,
    instrument_httpx,
)
from baton.observability.tracing_interceptor import TracingInterceptor
from baton.observability.tracing_redact import Redactor
from baton.observability.tracing_store import TracedExecutionStore
from baton.settings import Settings
from baton.store.protocol import ExecutionStore
from baton.store.traces import TraceStore

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
