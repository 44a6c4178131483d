"""Metrics through OpenTelemetry: exported by OTLP/HTTP to a fake collector on loopback."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import anyio
import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

from baton.agents import AgentRegistry, agent
from baton.core.executor import Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, Step
from baton.core.recovery import RetryThenFail
from baton.errors import AgentError
from baton.events import ExecutionStatus
from baton.observability.metrics import Metrics
from baton.observability.metrics_otel import otlp_metrics_configured, setup_otel_metrics
from baton.store import MemoryExecutionStore

pytestmark = pytest.mark.anyio


class _Collector(BaseHTTPRequestHandler):
    """Keeps each OTLP metrics request it is sent, decoded."""

    received: list[tuple[str, ExportMetricsServiceRequest]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        self.received.append((self.path, request))
        answer = ExportMetricsServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def collector() -> Iterator[tuple[str, list[tuple[str, ExportMetricsServiceRequest]]]]:
    received: list[tuple[str, ExportMetricsServiceRequest]] = []
    handler = type("Handler", (_Collector,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


@agent(description="Works.")
async def fine() -> str:
    return "ok"


@agent(description="Always fails; not retryable.")
async def broken() -> str:
    raise AgentError("broken on purpose")


@dataclass(frozen=True)
class Call:
    """The fields of a model call the metrics read (as ``baton.llm.usage.ModelCall`` has)."""

    provider: str
    model: str
    input_tokens: int
    output_tokens: int
    cost_usd: float | None = None
    latency_s: float = 0.0
    error: str | None = None


def _value(v: AnyValue) -> object:
    return getattr(v, v.WhichOneof("value") or "string_value")


def points(requests: list[tuple[str, ExportMetricsServiceRequest]]) -> dict[Any, Any]:
    """The last value of each (metric, attributes): sums and gauges as numbers, histograms
    as (count, sum); plus the resource's service name under ``service.name``."""
    out: dict[Any, Any] = {}
    for _, request in requests:
        for rm in request.resource_metrics:
            for attr in rm.resource.attributes:
                if attr.key == "service.name":
                    out["service.name"] = _value(attr.value)
            for sm in rm.scope_metrics:
                for m in sm.metrics:
                    kind = m.WhichOneof("data") or "sum"
                    for p in getattr(m, kind).data_points:
                        key = (m.name, frozenset((a.key, _value(a.value)) for a in p.attributes))
                        if kind == "histogram":
                            out[key] = (p.count, p.sum)
                        else:
                            out[key] = (
                                p.as_int if p.WhichOneof("value") == "as_int" else p.as_double
                            )
    return out


async def test_key_metrics_arrive_by_otlp_with_their_names_and_values(
    collector: tuple[str, list[tuple[str, ExportMetricsServiceRequest]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, received = collector
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"{url}/v1/metrics")
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "600000")  # only the flush exports
    metrics = Metrics()
    otel = setup_otel_metrics(metrics)
    assert otel is not None
    registry = AgentRegistry()
    registry.register(fine)
    registry.register(broken)
    store = MemoryExecutionStore()
    options = ExecutorOptions(interceptors=(metrics.interceptor,))
    executor = Executor(registry, store, options=options, recovery=RetryThenFail(random.Random(1)))
    orchestrator = Orchestrator(registry, store, executor)
    ok = await orchestrator.run(
        Plan(steps=[Step(id="a", agent="fine"), Step(id="b", agent="fine")])
    )
    failed = await orchestrator.run(Plan(steps=[Step(id="x", agent="broken")]))
    observer = metrics.model_call_observer()
    observer.on_call(Call("gemini", "gemini-2.5-flash", 120, 30, cost_usd=0.25, latency_s=0.5))
    observer.on_call(Call("gemini", "gemini-2.5-flash", 10, 0, latency_s=0.1, error="ModelError"))
    try:
        assert await anyio.to_thread.run_sync(otel.force_flush)
    finally:
        await otel.shutdown()

    assert ok.status is ExecutionStatus.SUCCEEDED
    assert failed.status is ExecutionStatus.FAILED
    assert received
    assert {path for path, _ in received} == {"/v1/metrics"}
    got = points(received)
    model = {("gen_ai.provider.name", "gemini"), ("gen_ai.request.model", "gemini-2.5-flash")}
    assert got["service.name"] == "baton"
    assert got[("baton.executions.started", frozenset())] == 2
    assert got[("baton.executions.finished", frozenset({("status", "succeeded")}))] == 1
    assert got[("baton.executions.finished", frozenset({("status", "failed")}))] == 1
    assert got[("baton.executions.in_progress", frozenset())] == 0
    assert (
        got[("baton.steps.finished", frozenset({("agent", "fine"), ("status", "succeeded")}))] == 2
    )
    broken_failed = frozenset({("agent", "broken"), ("status", "failed")})
    assert got[("baton.steps.finished", broken_failed)] == 1
    broken_permanent = frozenset({("agent", "broken"), ("error_class", "permanent")})
    assert got[("baton.step.errors", broken_permanent)] == 1
    count, total = got[
        ("baton.step.duration", frozenset({("agent", "fine"), ("status", "succeeded")}))
    ]
    assert count == 2
    assert 0 <= total < 5
    assert got[("baton.step.duration", broken_failed)][0] == 1
    assert got[("baton.execution.duration", frozenset({("status", "failed")}))][0] == 1
    assert got[("baton.model.calls", frozenset(model))] == 2
    assert got[("baton.model.tokens", frozenset(model | {("gen_ai.token.type", "input")}))] == 130
    assert got[("baton.model.tokens", frozenset(model | {("gen_ai.token.type", "output")}))] == 30
    assert got[("baton.model.cost", frozenset(model))] == pytest.approx(0.25)
    assert got[("baton.model.errors", frozenset(model | {("error.type", "ModelError")}))] == 1


def test_the_export_is_made_only_when_an_endpoint_is_configured() -> None:
    metrics = Metrics()
    assert setup_otel_metrics(metrics, {}) is None
    assert not otlp_metrics_configured({"OTEL_TRACES_EXPORTER": "otlp"})
    assert otlp_metrics_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert otlp_metrics_configured({"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://h/v1/metrics"})
    assert not otlp_metrics_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318", "OTEL_METRICS_EXPORTER": "none"}
    )
    assert metrics.interceptor.durations is None
    assert metrics.sinks == []
