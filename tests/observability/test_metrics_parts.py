"""The metrics' other sources: events handed in directly, models, caches, rate limits, the
SSE bus, pending approvals; the error classification; and the registries staying apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, Histogram
from prometheus_client.parser import text_string_to_metric_families

from baton.core.ladder import classify as core_classify
from baton.errors import (
    ErrorClass,
    NotFoundError,
    RateLimitedError,
    UnknownAgentError,
)
from baton.events import (
    ApprovalRequested,
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    ExecutionWaiting,
    StepFailed,
    StepLog,
    StepRetrying,
    StepStarted,
    StepSucceeded,
)
from baton.observability.metrics import Metrics
from baton.observability.metrics_counts import PlainHistogram
from baton.observability.metrics_errors import class_of_name, classify
from baton.observability.metrics_instruments import STEP_BUCKETS
from baton.safety.approvals import ApprovalRejectedError
from baton.safety.rate_limit import RateLimit, RateLimiter
from baton.store.approvals import Approval, ApprovalStatus, MemoryApprovalStore
from baton.streaming import EventBus

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def value(metrics: Metrics, name: str, **labels: str) -> float:
    text = metrics.render().decode()
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return s.value
    raise KeyError((name, labels))


def test_events_handed_in_directly_are_counted_and_forgotten() -> None:
    metrics = Metrics()
    interceptor = metrics.interceptor
    interceptor.events(
        [
            ExecutionStarted(execution_id="ex1", at=T0),
            StepStarted(execution_id="ex1", step_id="a", agent="files.read", at=T0),
            StepLog(execution_id="ex1", step_id="a", message="secret=hunter2"),
            StepSucceeded(execution_id="ex1", step_id="a", duration_s=0.2, at=T0),
            ApprovalRequested(execution_id="ex1", step_id="b", approval_id="ap_1"),
            ExecutionWaiting(execution_id="ex1", reason="b needs approval"),
        ]
    )
    assert interceptor.watched_executions == 0  # a waiting execution's run has ended
    interceptor.events(
        [
            ExecutionStarted(execution_id="ex1", at=T0 + timedelta(seconds=10), resumed=True),
            StepStarted(execution_id="ex1", step_id="b", agent="notify.send"),
            StepFailed(
                execution_id="ex1",
                step_id="b",
                error="rejected by dana",
                error_type="ApprovalRejectedError",
                started_at=T0 + timedelta(seconds=10),
                at=T0 + timedelta(seconds=11.5),
            ),
            ExecutionFinished(
                execution_id="ex1", status=ExecutionStatus.FAILED, at=T0 + timedelta(seconds=12)
            ),
        ]
    )

    assert interceptor.watched_executions == 0
    assert value(metrics, "baton_executions_started_total") == 2
    assert value(metrics, "baton_approvals_requested_total") == 1
    assert (
        value(metrics, "baton_step_duration_seconds_sum", agent="files.read", status="succeeded")
        == 0.2
    )
    assert (
        value(metrics, "baton_step_duration_seconds_sum", agent="notify.send", status="failed")
        == 1.5
    )
    # The resumed run's duration: from its own start.
    assert value(metrics, "baton_execution_duration_seconds_sum", status="failed") == 2.0
    assert (
        value(metrics, "baton_step_errors_total", agent="notify.send", error_class="invalid_input")
        == 1
    )
    assert "hunter2" not in metrics.render().decode()


def test_error_classes_come_from_the_events() -> None:
    metrics = Metrics()
    metrics.interceptor.events(
        [
            ExecutionStarted(execution_id="ex1", at=T0),
            StepStarted(execution_id="ex1", step_id="a", agent="http.get", at=T0),
            StepRetrying(execution_id="ex1", step_id="a", error="429", error_class="rate_limited"),
            StepStarted(execution_id="ex1", step_id="a", agent="http.get", attempt=2, at=T0),
            StepFailed(
                execution_id="ex1",
                step_id="a",
                error="took too long",
                error_type="StepTimeoutError",
                error_class="timeout",
            ),
            # Recorded before events carried the class: the fallbacks.
            StepStarted(execution_id="ex1", step_id="b", agent="http.get", at=T0),
            StepRetrying(execution_id="ex1", step_id="b", error="flaky"),
            StepStarted(execution_id="ex1", step_id="b", agent="http.get", attempt=2, at=T0),
            StepFailed(
                execution_id="ex1", step_id="b", error="no", error_type="PermissionDeniedError"
            ),
        ]
    )

    def errors(error_class: str) -> float:
        return value(metrics, "baton_step_errors_total", agent="http.get", error_class=error_class)

    assert errors("rate_limited") == 1
    assert errors("timeout") == 1
    assert errors("transient") == 1
    assert errors("permission") == 1


def test_a_broken_batch_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    metrics = Metrics()
    bad: Any = StepSucceeded(execution_id="ex1", step_id="a", duration_s=-1.0)
    object.__setattr__(bad, "duration_s", "not a number")
    metrics.interceptor.events([bad])  # must not raise
    assert "metrics could not count" in caplog.text


async def test_execution_context_counts_in_progress_and_bounds_memory() -> None:
    metrics = Metrics()
    interceptor = metrics.interceptor
    async with interceptor.execution("ex1", "default"), interceptor.execution("ex2", "default"):
        assert value(metrics, "baton_executions_in_progress") == 2
        assert interceptor.watched_executions == 2
        with pytest.raises(KeyError):  # the attempt's exception goes through
            async with interceptor.step_attempt("ex1", "a", "files.read", 1):
                raise KeyError("x")
    assert value(metrics, "baton_executions_in_progress") == 0
    assert interceptor.watched_executions == 0


def test_model_calls_and_cache_lookups() -> None:
    metrics = Metrics()
    metrics.record_model_call("gemini", "flash", input_tokens=120, output_tokens=30, cost_usd=0.01)
    metrics.record_model_call("gemini", "flash", input_tokens=80, output_tokens=20)
    metrics.record_model_call("openai", "small", input_tokens=5, output_tokens=1, cost_usd=0.5)
    for hit in (True, True, False):
        metrics.record_cache(hit)

    assert value(metrics, "baton_model_calls_total", provider="gemini", model="flash") == 2
    assert (
        value(metrics, "baton_model_tokens_total", provider="gemini", model="flash", kind="input")
        == 200
    )
    assert (
        value(metrics, "baton_model_tokens_total", provider="gemini", model="flash", kind="output")
        == 50
    )
    assert value(metrics, "baton_model_cost_usd_total", provider="gemini", model="flash") == 0.01
    assert value(metrics, "baton_model_cost_usd_total", provider="openai", model="small") == 0.5
    assert value(metrics, "baton_cache_hits_total") == 2
    assert value(metrics, "baton_cache_misses_total") == 1


async def test_rate_limit_waits_are_observed_per_integration() -> None:
    metrics = Metrics()
    limiter = RateLimiter(
        {"http": RateLimit(requests=1, window_s=0.2, max_wait_s=5.0)},
        on_wait=metrics.record_rate_limit_wait,
    )
    for _ in range(2):
        async with limiter.slot("http:api.example.com"):
            pass
    async with limiter.slot("unlimited"):  # no limit: nothing to observe
        pass

    assert value(metrics, "baton_rate_limit_wait_seconds_count", integration="http") == 2
    assert (
        value(metrics, "baton_rate_limit_wait_seconds_bucket", integration="http", le="0.01") == 1
    )
    waited = value(metrics, "baton_rate_limit_wait_seconds_sum", integration="http")
    assert 0.1 < waited < 2.0
    assert "api.example.com" not in metrics.render().decode()
    assert "unlimited" not in metrics.render().decode()


async def test_a_refused_call_reports_its_wait_too() -> None:
    waits: list[tuple[str, float]] = []
    limiter = RateLimiter(
        {"mail": RateLimit(requests=1, window_s=60, max_wait_s=0.05)},
        on_wait=lambda key, seconds: waits.append((key, seconds)),
    )
    async with limiter.slot("mail"):
        pass
    with pytest.raises(RateLimitedError):
        async with limiter.slot("mail"):
            pass
    assert [k for k, _ in waits] == ["mail", "mail"]
    assert waits[0][1] < 0.05 <= waits[1][1]


async def test_sse_clients_are_read_from_the_bus_at_scrape_time() -> None:
    metrics = Metrics()
    bus = EventBus(max_queue=16, heartbeat_s=None)
    metrics.watch_bus(bus)
    metrics.watch_bus(bus)  # once is enough; twice does not register twice
    assert value(metrics, "baton_sse_clients") == 0
    async with bus.subscribe_workspace("w1"), bus.subscribe_workspace("w2"):
        assert value(metrics, "baton_sse_clients") == 2
    assert value(metrics, "baton_sse_clients") == 0
    assert value(metrics, "baton_sse_clients_dropped_total") == 0


def approval(approval_id: str, *, expires_at: datetime) -> Approval:
    return Approval(
        id=approval_id,
        workspace_id="default",
        execution_id="ex1",
        step_id=approval_id,
        agent="notify.send",
        plan_hash="p",
        inputs_hash="i",
        inputs={"to": "dana@example.com"},
        impact={"summary": "send", "targets": [], "reversible": False},
        reason="irreversible",
        status=ApprovalStatus.PENDING,
        created_at=T0,
        expires_at=expires_at,
    )


async def test_pending_approvals_are_refreshed_from_the_store() -> None:
    metrics = Metrics()
    store = MemoryApprovalStore(clock=lambda: T0)
    now = T0 + timedelta(minutes=1)
    await store.create(approval("ap_1", expires_at=T0 + timedelta(hours=1)))
    await store.create(approval("ap_2", expires_at=T0 + timedelta(hours=1)))
    await store.create(approval("ap_3", expires_at=T0 + timedelta(seconds=30)))  # past due
    await store.create(approval("ap_4", expires_at=T0 + timedelta(hours=1)))
    await store.decide("ap_4", ApprovalStatus.APPROVED, by="dana")

    assert value(metrics, "baton_approvals_pending") == 0
    await metrics.refresh(store, now=now)
    assert value(metrics, "baton_approvals_pending") == 2
    assert "dana@example.com" not in metrics.render().decode()


def test_two_engines_in_one_process_have_their_own_registries() -> None:
    first, second = Metrics(), Metrics()
    first.record_cache(True)
    assert value(first, "baton_cache_hits_total") == 1
    assert value(second, "baton_cache_hits_total") == 0
    shared = CollectorRegistry()
    Metrics(shared)
    with pytest.raises(ValueError, match="Duplicated timeseries"):
        Metrics(shared)


def test_the_metrics_classify_errors_as_the_recovery_ladder_does() -> None:
    assert classify is core_classify  # one classification, not a copy to keep in step


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("StepTimeoutError", ErrorClass.TIMEOUT),
        ("RateLimitedError", ErrorClass.RATE_LIMITED),
        ("PermissionDeniedError", ErrorClass.PERMISSION),
        ("AgentInputError", ErrorClass.INVALID_INPUT),
        (UnknownAgentError.__name__, ErrorClass.INVALID_INPUT),
        (NotFoundError.__name__, ErrorClass.INVALID_INPUT),
        (ApprovalRejectedError.__name__, ErrorClass.INVALID_INPUT),
        ("ConnectionResetError", ErrorClass.TRANSIENT),
        ("AgentError", ErrorClass.PERMANENT),
        ("SomethingElse", ErrorClass.PERMANENT),
    ],
)
def test_class_of_a_name(name: str, expected: ErrorClass) -> None:
    assert class_of_name(name) is expected


def test_plain_histograms_bucket_like_prometheus_client() -> None:
    registry = CollectorRegistry()
    reference = Histogram("h", "h", buckets=STEP_BUCKETS, registry=registry)
    plain = PlainHistogram(STEP_BUCKETS)
    values = [0.0, 0.001, 0.0011, 0.05, 0.3, 1.0, 59.9, 600.0, 600.1, 1e9]
    for v in values:
        reference.observe(v)
        plain.observe(v)
    expected = {
        s.labels["le"]: s.value
        for family in registry.collect()
        for s in family.samples
        if s.name == "h_bucket"
    }
    assert dict(plain.buckets()) == expected
    assert plain.total == pytest.approx(sum(values))
    assert dict(plain.buckets())["0.001"] == 2  # a bound is inclusive ("le")
