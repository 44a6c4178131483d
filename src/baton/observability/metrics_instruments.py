"""Bucket bounds, and the ``prometheus_client`` instruments fed from outside the executor.

`baton.observability.metrics` lists every family and how to query it. Labels carry only
agent names, statuses, error classes, recovery rungs, provider and model names and
integration names: never inputs, outputs, error messages, ids or secrets, and never anything
unbounded (an execution id would be a new time series per run).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

__all__ = [
    "EXECUTION_BUCKETS",
    "RATE_LIMIT_WAIT_BUCKETS",
    "STEP_BUCKETS",
    "Instruments",
]

STEP_BUCKETS = (
    0.001,
    0.005,
    0.01,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
)
"""Seconds: from no-op agents (sub-millisecond) to model calls and slow integrations."""

EXECUTION_BUCKETS = (
    0.01,
    0.05,
    0.1,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
)
"""Seconds; the seed's "running long" alert is at 5 minutes (300 s), a bucket edge."""

RATE_LIMIT_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Seconds; the first bucket is about the calls admitted at once (taking the quota costs
a little even then)."""


@dataclass(frozen=True, slots=True)
class Instruments:
    """The families fed from outside the executor, registered by `Instruments.create`.

    Those of executions and steps are counted by `MetricsInterceptor`, which is a collector
    of its own (it counts in plain numbers: these are called far less often).
    """

    approvals_pending: Gauge
    model_calls: Counter
    model_tokens: Counter
    model_cost: Counter
    model_errors: Counter
    model_duration: Histogram
    cache_hits: Counter
    cache_misses: Counter
    rate_limit_wait: Histogram

    @classmethod
    def create(cls, registry: CollectorRegistry) -> Instruments:
        """Make and register every family in `registry` (once per registry)."""
        r = registry
        return cls(
            approvals_pending=Gauge(
                "baton_approvals_pending",
                "Approval requests waiting for a decision (every workspace), as of the scrape.",
                registry=r,
            ),
            model_calls=Counter(
                "baton_model_calls",
                "Calls to language models, by provider and model.",
                ["provider", "model"],
                registry=r,
            ),
            model_tokens=Counter(
                "baton_model_tokens",
                "Tokens of language-model calls, by provider, model and kind (input, output).",
                ["provider", "model", "kind"],
                registry=r,
            ),
            model_cost=Counter(
                "baton_model_cost_usd",
                "Cost of language-model calls in US dollars, by provider and model.",
                ["provider", "model"],
                registry=r,
            ),
            model_errors=Counter(
                "baton_model_call_errors",
                "Language-model calls that failed, by provider, model and error type.",
                ["provider", "model", "error"],
                registry=r,
            ),
            model_duration=Histogram(
                "baton_model_call_duration_seconds",
                "Time language-model calls took (failed ones included), by provider and model.",
                ["provider", "model"],
                buckets=STEP_BUCKETS,
                registry=r,
            ),
            cache_hits=Counter(
                "baton_cache_hits",
                "Lookups answered from a cache.",
                registry=r,
            ),
            cache_misses=Counter(
                "baton_cache_misses",
                "Lookups a cache could not answer.",
                registry=r,
            ),
            rate_limit_wait=Histogram(
                "baton_rate_limit_wait_seconds",
                "Time calls waited for a rate limit's admission, by integration (the "
                "rate-limit key before ':'); refused calls included.",
                ["integration"],
                buckets=RATE_LIMIT_WAIT_BUCKETS,
                registry=r,
            ),
        )
