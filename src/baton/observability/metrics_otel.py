"""The key metrics through the OpenTelemetry metrics API, exported by OTLP when configured.

Prometheus (`baton.observability.metrics`, ``GET /metrics``) stays the exposition; this is
for a deployment that collects with OpenTelemetry instead of scraping. When
``OTEL_EXPORTER_OTLP_METRICS_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (and
``OTEL_METRICS_EXPORTER`` is not ``none``), `setup_otel_metrics` makes a `MeterProvider` of
baton's own (the global one is left alone) with a periodic reader over the OTLP/HTTP metrics
exporter, which reads the other standard variables itself (headers, timeout, compression,
``OTEL_METRIC_EXPORT_INTERVAL``).

The instruments (attribute keys as in the Prometheus labels; model calls use the GenAI
semantic conventions' keys):

===============================  ======================  ===================================
``baton.executions.started``     observable counter      runs of executions started
``baton.executions.finished``    observable counter      by ``status``
``baton.executions.in_progress`` observable up-down      executions running now
``baton.execution.duration``     histogram (s)           by ``status``
``baton.step.duration``          histogram (s)           by ``agent`` and ``status``
``baton.steps.finished``         observable counter      by ``agent`` and ``status``
``baton.step.errors``            observable counter      by ``agent`` and ``error_class``
``baton.model.calls``            counter                 by provider and model
``baton.model.tokens``           counter                 by provider, model, token type
``baton.model.cost``             counter (USD)           by provider and model
``baton.model.errors``           counter                 by provider, model, ``error.type``
===============================  ======================  ===================================

Cost: the counters of executions, steps and errors are observable: read from the counts the
Prometheus side keeps already (`baton.observability.metrics_counts`) when the reader
collects, so the executor's hot path pays nothing for them. The two duration histograms are
recorded as each step and execution finishes (a histogram cannot be observed), and only
when this export is on.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping

import anyio
from opentelemetry.metrics import CallbackOptions, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricExporter, MetricReader
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader as PeriodicReader
from opentelemetry.util.types import Attributes

from baton.observability.metrics import Metrics
from baton.observability.metrics_counts import Counts
from baton.observability.metrics_instruments import EXECUTION_BUCKETS, STEP_BUCKETS
from baton.observability.tracing import (
    GEN_AI_PROVIDER_NAME,
    GEN_AI_REQUEST_MODEL,
    TRACER_NAME,
    service_resource,
)

__all__ = ["OtelMetrics", "otlp_metrics_configured", "setup_otel_metrics"]

_TOKEN_TYPE = "gen_ai.token.type"


def otlp_metrics_configured(env: Mapping[str, str]) -> bool:
    """Whether the environment asks for metrics over OTLP."""
    if env.get("OTEL_METRICS_EXPORTER", "").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    )


def setup_otel_metrics(
    metrics: Metrics,
    env: Mapping[str, str] | None = None,
    *,
    reader: MetricReader | None = None,
) -> OtelMetrics | None:
    """Export `metrics`' key figures by OTLP when the environment configures an endpoint.

    Args:
        metrics: The engine's metrics (their counts are read, their model calls forwarded).
        env: The environment (default: ``os.environ``).
        reader: Read with this instead of a periodic reader over the OTLP exporter (tests);
            given, the export is made whatever the environment says.

    Returns:
        The export (`OtelMetrics.shutdown` it when done), or None when not configured.
    """
    env = os.environ if env is None else env
    if reader is None:
        if not otlp_metrics_configured(env):
            return None
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

        exporter: MetricExporter = OTLPMetricExporter()
        reader = PeriodicReader(exporter)
    provider = MeterProvider(
        metric_readers=[reader], resource=service_resource(env), shutdown_on_exit=False
    )
    return OtelMetrics(metrics, provider)


class OtelMetrics:
    """The OpenTelemetry instruments over one `Metrics` (see the module docstring)."""

    def __init__(self, metrics: Metrics, provider: MeterProvider) -> None:
        """Make the instruments on `provider` and hook them into `metrics`."""
        self.provider = provider
        """baton's own meter provider (flush and shut it down through this object)."""
        counts = metrics.interceptor.counts
        meter = provider.get_meter(TRACER_NAME)
        meter.create_observable_counter(
            "baton.executions.started",
            [_observe(lambda: [(counts.started, None)])],
            description="Runs of executions started (a resumed execution counts again).",
        )
        meter.create_observable_counter(
            "baton.executions.finished",
            [_observe(lambda: _finished(counts))],
            description="Executions that reached a final status, by status.",
        )
        meter.create_observable_up_down_counter(
            "baton.executions.in_progress",
            [_observe(lambda: [(counts.in_progress, None)])],
            description="Executions this process is running now.",
        )
        meter.create_observable_counter(
            "baton.steps.finished",
            [_observe(lambda: _steps_finished(counts))],
            description="Steps that reached a final status, by agent and status.",
        )
        meter.create_observable_counter(
            "baton.step.errors",
            [_observe(lambda: _step_errors(counts))],
            description="Failed attempts of steps (retried ones included), by agent and class.",
        )
        self._step_duration = meter.create_histogram(
            "baton.step.duration",
            unit="s",
            description="Time a step's last attempt took, by agent and final status.",
            explicit_bucket_boundaries_advisory=STEP_BUCKETS,
        )
        self._execution_duration = meter.create_histogram(
            "baton.execution.duration",
            unit="s",
            description="Wall time of an execution's run, by final status.",
            explicit_bucket_boundaries_advisory=EXECUTION_BUCKETS,
        )
        self._model_calls = meter.create_counter(
            "baton.model.calls", description="Calls to language models."
        )
        self._model_tokens = meter.create_counter(
            "baton.model.tokens", unit="{token}", description="Tokens of language-model calls."
        )
        self._model_cost = meter.create_counter(
            "baton.model.cost", unit="USD", description="Cost of language-model calls."
        )
        self._model_errors = meter.create_counter(
            "baton.model.errors", description="Language-model calls that failed, by error type."
        )
        metrics.interceptor.durations = self
        metrics.sinks.append(self)

    def step_duration(self, agent: str, status: str, seconds: float) -> None:
        """Record a finished step's duration."""
        self._step_duration.record(seconds, {"agent": agent, "status": status})

    def execution_duration(self, status: str, seconds: float) -> None:
        """Record a finished execution's duration."""
        self._execution_duration.record(seconds, {"status": status})

    def model_call(
        self,
        provider: str,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float | None,
        duration_s: float | None,
        error: str | None,
    ) -> None:
        """Count one language-model call (`Metrics.record_model_call` forwards it)."""
        attributes = {GEN_AI_PROVIDER_NAME: provider, GEN_AI_REQUEST_MODEL: model}
        self._model_calls.add(1, attributes)
        self._model_tokens.add(input_tokens, {**attributes, _TOKEN_TYPE: "input"})
        self._model_tokens.add(output_tokens, {**attributes, _TOKEN_TYPE: "output"})
        if cost_usd is not None:
            self._model_cost.add(cost_usd, attributes)
        if error is not None:
            self._model_errors.add(1, {**attributes, "error.type": error})

    def force_flush(self) -> bool:
        """Collect and export now (blocking: call it off the event loop)."""
        return self.provider.force_flush()

    async def shutdown(self) -> None:
        """Export a last time and stop (on a worker thread: the export is blocking HTTP)."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.provider.shutdown)


Values = Iterable[tuple[float, Attributes]]


def _observe(read: Callable[[], Values]) -> Callable[[CallbackOptions], Iterable[Observation]]:
    """An observable instrument's callback over `read` (values with their attributes).

    The callback runs on the reader's thread while the event loop updates the counts: every
    read copies a dict in one C call (``list(d.items())``), which the GIL keeps whole.
    """

    def callback(options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(value, attributes) for value, attributes in read()]

    return callback


def _finished(counts: Counts) -> Values:
    return [(n, {"status": status.value}) for status, n in list(counts.finished.items())]


def _steps_finished(counts: Counts) -> Values:
    out: list[tuple[float, Attributes]] = []
    for name, agent in list(counts.agents.items()):
        for status, n in (
            ("succeeded", agent.succeeded),
            ("failed", agent.failed),
            ("skipped", agent.skipped),
            ("cancelled", agent.cancelled),
        ):
            if n:
                out.append((n, {"agent": name, "status": status}))
    return out


def _step_errors(counts: Counts) -> Values:
    return [
        (n, {"agent": name, "error_class": error_class})
        for name, agent in list(counts.agents.items())
        for error_class, n in list(agent.errors.items())
        if n
    ]
