"""Prometheus metrics (seed layer 7): what the engine does, in a registry of its own.

```python
metrics = Metrics()                         # a fresh CollectorRegistry, nothing global
options = ExecutorOptions(interceptors=(metrics.interceptor,))
limiter = RateLimiter(limits, on_wait=metrics.record_rate_limit_wait)
metrics.watch_bus(bus)                      # active SSE clients, read at each scrape
await metrics.refresh(approval_store)       # pending approvals, before each scrape
body = metrics.render()                     # Prometheus text format, for GET /metrics
```

The registry is baton's own, never ``prometheus_client.REGISTRY``: tests and several engines
in one process do not collide, and nothing is registered at import time.

The families (executions, steps, errors and approvals requested are counted by
`MetricsInterceptor` from committed events; the rest are ``prometheus_client`` instruments):

==========================================  ===================================================
``baton_executions_started_total``          runs of executions started (resumes count again)
``baton_executions_finished_total``         by ``status``: succeeded, failed, cancelled
``baton_executions_in_progress``            executions this process runs now
``baton_execution_success_ratio``           succeeded / finished since the process started
``baton_execution_duration_seconds``        histogram by ``status``
``baton_steps_started_total``               attempts started, by ``agent``
``baton_steps_finished_total``              by ``agent`` and final ``status``
``baton_step_duration_seconds``             histogram by ``agent`` and ``status``
``baton_step_retries_total``                by ``agent``
``baton_step_recoveries_total``             by ``rung`` (alternative, ask, fail), ``error_class``
``baton_step_errors_total``                 failed attempts by ``agent`` and ``error_class``
``baton_approvals_requested_total``         steps that stopped for a person's approval
``baton_approvals_pending``                 requests awaiting a decision, at the last refresh
``baton_model_calls_total``                 by ``provider`` and ``model``
``baton_model_tokens_total``                by ``provider``, ``model``, ``kind`` (input, output)
``baton_model_cost_usd_total``              by ``provider`` and ``model``
``baton_model_call_errors_total``           failed calls by ``provider``, ``model``, ``error``
``baton_model_call_duration_seconds``       histogram by ``provider`` and ``model``
``baton_cache_hits_total`` / ``_misses_``   cache lookups
``baton_rate_limit_wait_seconds``           histogram by ``integration``
``baton_sse_clients``                       SSE subscriptions attached now
``baton_sse_clients_dropped_total``         subscribers let go for falling behind
==========================================  ===================================================

Success rate over a window, in PromQL::

    sum(rate(baton_executions_finished_total{status="succeeded"}[1h]))
      / sum(rate(baton_executions_finished_total[1h]))

Error rate of steps, as ``baton stats`` defines it:
``sum(rate(baton_steps_finished_total{status="failed"}[5m])) /
sum(rate(baton_steps_finished_total{status=~"succeeded|failed"}[5m]))``; failed steps per
minute: ``60 * sum(rate(baton_steps_finished_total{status="failed"}[5m]))``; failed attempts
(retried ones included) per minute and class: ``60 * sum by (error_class)
(rate(baton_step_errors_total[5m]))``; cache hit rate: hits / (hits + misses).

Model calls: give `Metrics.model_call_observer` to the model client's ``observers``; it
counts every call it is told of (`ModelCallFacts`: the fields it reads of
``baton.llm.usage.ModelCall``, described here because observability sits below the model
layer). Caches report through `Metrics.record_cache`.

Labels are agent, provider, model and integration names, statuses, rungs, error classes and
error type names: never inputs, outputs, messages, ids or secrets.

Prometheus (`render`, ``GET /metrics``) is the exposition. When an OTLP endpoint is
configured, `baton.observability.metrics_otel` also exports the key metrics through the
OpenTelemetry metrics API (`setup_otel_metrics`); it reads these same counts.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from baton.observability.metrics_instruments import Instruments
from baton.observability.metrics_interceptor import MetricsInterceptor
from baton.store.approvals import ApprovalStatus, ApprovalStore

__all__ = ["BusStats", "ModelCallFacts", "ModelCallMetrics", "ModelCallSink", "Metrics"]

log = logging.getLogger("baton.observability.metrics")


class BusStats(Protocol):
    """What the metrics read from the event bus (`baton.streaming.bus.EventBus` has it)."""

    @property
    def subscribers(self) -> int:
        """Subscriptions attached now."""
        ...

    @property
    def dropped_total(self) -> int:
        """Subscribers dropped for falling behind since the bus was made."""
        ...


class ModelCallFacts(Protocol):
    """What the metrics read of a model call (``baton.llm.usage.ModelCall`` has it all)."""

    @property
    def provider(self) -> str:
        """``gemini``, ``openai``... (a fixed name)."""
        ...

    @property
    def model(self) -> str:
        """E.g. ``gemini-2.5-flash``."""
        ...

    @property
    def input_tokens(self) -> int:
        """Prompt tokens."""
        ...

    @property
    def output_tokens(self) -> int:
        """Completion tokens."""
        ...

    @property
    def cost_usd(self) -> float | None:
        """What it cost, when priced."""
        ...

    @property
    def latency_s(self) -> float:
        """How long it took."""
        ...

    @property
    def error(self) -> str | None:
        """The error's type name when it failed."""
        ...


class ModelCallSink(Protocol):
    """Another destination of model calls (the OTLP export).

    It gets `Metrics.record_model_call`'s arguments, negative numbers made zero.
    """

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
        """Count one call."""
        ...


_MAX_ERROR_LABEL = 64


class _ModelInstruments:
    __slots__ = ("calls", "cost", "duration", "input_tokens", "output_tokens")

    def __init__(self, m: Instruments, provider: str, model: str) -> None:
        self.calls = m.model_calls.labels(provider, model)
        self.input_tokens = m.model_tokens.labels(provider, model, "input")
        self.output_tokens = m.model_tokens.labels(provider, model, "output")
        self.cost = m.model_cost.labels(provider, model)
        self.duration = m.model_duration.labels(provider, model)


class Metrics:
    """The engine's metrics: instruments, the executor interceptor and the exposition.

    Args:
        registry: Where to register the families; a new `CollectorRegistry` by default.
            Give each `Metrics` its own: a family name registers once per registry.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        """The registry `render` exposes."""
        self._m = Instruments.create(self.registry)
        self.interceptor = MetricsInterceptor()
        """Give it to ``ExecutorOptions.interceptors``."""
        self.registry.register(self.interceptor)
        self._models: dict[tuple[str, str], _ModelInstruments] = {}
        self.sinks: list[ModelCallSink] = []
        """Told of every model call too (`setup_otel_metrics` adds the OTLP export)."""
        self._waits: dict[str, Histogram] = {}
        self._bus: _BusCollector | None = None

    @property
    def content_type(self) -> str:
        """The media type of `render`'s output (Prometheus text format)."""
        return CONTENT_TYPE_LATEST

    def render(self) -> bytes:
        """Every family, in the Prometheus text exposition format."""
        return generate_latest(self.registry)

    def record_model_call(
        self,
        provider: str,
        model: str,
        *,
        input_tokens: int,
        output_tokens: int,
        cost_usd: float | None = None,
        duration_s: float | None = None,
        error: str | None = None,
    ) -> None:
        """Count one language-model call: its tokens, and its cost and duration when known.

        Args:
            provider: E.g. ``gemini``; a label, so a fixed name, never a URL with a key.
            model: E.g. ``gemini-2.5-flash``.
            input_tokens: Prompt tokens.
            output_tokens: Completion tokens.
            cost_usd: What the call cost, if the caller prices it.
            duration_s: How long it took.
            error: The error's type name when it failed (a label: a name, not a message).
        """
        key = (provider, model)
        found = self._models.get(key)
        if found is None:
            found = self._models[key] = _ModelInstruments(self._m, provider, model)
        found.calls.inc()
        found.input_tokens.inc(max(input_tokens, 0))
        found.output_tokens.inc(max(output_tokens, 0))
        if cost_usd is not None:
            found.cost.inc(max(cost_usd, 0.0))
        if duration_s is not None:
            found.duration.observe(max(duration_s, 0.0))
        if error is not None:
            error = error[:_MAX_ERROR_LABEL]
            self._m.model_errors.labels(provider, model, error).inc()
        for sink in self.sinks:
            sink.model_call(
                provider,
                model,
                input_tokens=max(input_tokens, 0),
                output_tokens=max(output_tokens, 0),
                cost_usd=None if cost_usd is None else max(cost_usd, 0.0),
                duration_s=None if duration_s is None else max(duration_s, 0.0),
                error=error,
            )

    def model_call_observer(self) -> ModelCallMetrics:
        """An observer for the model client (``observers=[metrics.model_call_observer()]``)."""
        return ModelCallMetrics(self)

    def record_cache(self, hit: bool) -> None:
        """Count one cache lookup, answered (`hit`) or not."""
        (self._m.cache_hits if hit else self._m.cache_misses).inc()

    def record_rate_limit_wait(self, key: str, seconds: float) -> None:
        """Observe a rate-limited call's wait (`RateLimiter`'s ``on_wait`` hook).

        The label is the integration, the key's part before ``:`` (``http`` for
        ``http:api.example.com``), so hosts do not each make a new time series.
        """
        integration = key.partition(":")[0]
        child = self._waits.get(integration)
        if child is None:
            child = self._waits[integration] = self._m.rate_limit_wait.labels(integration)
        child.observe(max(seconds, 0.0))

    def watch_bus(self, bus: BusStats) -> None:
        """Expose the bus's live SSE subscribers and drops, read at each scrape (once)."""
        if self._bus is not None:
            self._bus.bus = bus
            return
        self._bus = _BusCollector(bus)
        self.registry.register(self._bus)

    async def refresh(self, approvals: ApprovalStore, *, now: datetime | None = None) -> None:
        """Set the pending-approvals gauge from the store (call it before a scrape).

        Requests past their deadline are not counted: nobody can decide them any more.
        """
        at = now or datetime.now(UTC)
        pending = await approvals.list(ApprovalStatus.PENDING)
        self._m.approvals_pending.set(sum(1 for a in pending if a.expires_at > at))


class ModelCallMetrics:
    """Counts each model call it is told of (``on_call``, the model client's observer hook)."""

    __slots__ = ("_metrics",)

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def on_call(self, call: ModelCallFacts) -> None:
        """Count `call` (`Metrics.record_model_call`); never raises (the call is done)."""
        try:
            self._metrics.record_model_call(
                call.provider,
                call.model,
                input_tokens=call.input_tokens,
                output_tokens=call.output_tokens,
                cost_usd=call.cost_usd,
                duration_s=call.latency_s,
                error=call.error,
            )
        except Exception:  # counting must not fail the caller's model call
            log.exception("could not count a model call")


class _BusCollector(Collector):
    """Reads the bus at scrape time: a value that exists already, so nothing to update."""

    def __init__(self, bus: BusStats) -> None:
        self.bus = bus

    def collect(self) -> list[Metric]:
        clients = GaugeMetricFamily("baton_sse_clients", "SSE subscriptions attached now.")
        clients.add_metric([], float(self.bus.subscribers))
        dropped = CounterMetricFamily(
            "baton_sse_clients_dropped",
            "SSE subscribers let go for falling behind (they resume by Last-Event-ID).",
        )
        dropped.add_metric([], float(self.bus.dropped_total))
        return [clients, dropped]
