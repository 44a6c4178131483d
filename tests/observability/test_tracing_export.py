"""Spans leave the process: into the trace store (memory, SQLite, PostgreSQL) and by OTLP."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from baton.agents import AgentRegistry, agent
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.errors import AgentError
from baton.events import RunEvent
from baton.observability.tracing import Tracing, setup_tracing
from baton.settings import Settings
from baton.store import MemoryExecutionStore
from baton.store.records import StoredEvent
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.traces import SqlTraceStore
from baton.store.traces import MemoryTraceStore, TraceStore, span_tree

pytestmark = pytest.mark.anyio


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None, **kw)  # type: ignore[call-arg]


@agent(description="Sleep for a while.")
async def nap(seconds: float = 0.0) -> float:
    await anyio.sleep(seconds)
    return seconds


@pytest.fixture
def registry() -> AgentRegistry:
    calls = {"n": 0}

    @agent(description="Fails once, then works.")
    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            raise AgentError("first try fails", retryable=True)
        return "ok"

    r = AgentRegistry()
    r.register(nap)
    r.register(flaky)
    return r


PLAN = Plan(
    steps=[
        Step(id="a", agent="nap", inputs={"seconds": 0.01}),
        Step(
            id="b",
            agent="flaky",
            depends_on=["a"],
            policy=StepPolicy(retry=RetryPolicy(max_attempts=2, initial_delay_s=0.0)),
        ),
    ]
)


class SlowAppends(MemoryExecutionStore):
    """Commits take 3 ms (the database keeps store spans of 1 ms or more)."""

    @property
    def append_never_suspends(self) -> bool:
        return False

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        await anyio.sleep(0.003)
        return await super().append(events)


async def run(tracing: Tracing, registry: AgentRegistry, workspace_id: str) -> ExecutionResult:
    assert tracing.interceptor is not None
    store = tracing.wrap_store(SlowAppends())
    options = ExecutorOptions(interceptors=(tracing.interceptor,), workspace_id=workspace_id)
    executor = Executor(registry, store, options=options)
    return await Orchestrator(registry, store, executor).run(PLAN, workspace_id=workspace_id)


async def test_an_executions_spans_are_kept_in_the_trace_store(
    store_database: Database | None, registry: AgentRegistry, tmp_path: Path
) -> None:
    traces: TraceStore = (
        MemoryTraceStore() if store_database is None else SqlTraceStore(store_database)
    )
    tracing = setup_tracing(settings(tmp_path), traces)
    try:
        result = await run(tracing, registry, "ws_a")
        assert result.ok
        with tracing.planning(planner="offline"):  # no execution: not kept
            pass
        await tracing.flush()
        kept = await traces.spans(result.execution_id, workspace_id="ws_a")
    finally:
        await tracing.shutdown()

    tree = [(n.depth, n.span.name) for n in span_tree(kept)]
    assert tree[0] == (0, "execution")
    assert {(1, "step a"), (1, "store append")} <= set(tree)
    # Quick store transactions (a lease in memory) are not worth a row; slow ones are kept.
    assert "store acquire_lease" not in {name for _, name in tree}
    assert all(s.duration_s >= 0.001 for s in kept if s.name.startswith("store "))
    assert [name for depth, name in tree if name == "step b"] == ["step b", "step b"]
    assert "plan" not in {name for _, name in tree}
    assert {s.execution_id for s in kept} == {result.execution_id}
    assert {s.workspace_id for s in kept} == {"ws_a"}
    root = kept[0]
    assert root.parent_span_id is None
    assert root.attributes["baton.execution_id"] == result.execution_id
    assert root.attributes["baton.step_count"] == 2
    assert all(s.trace_id == root.trace_id for s in kept)
    step_a = next(s for s in kept if s.name == "step a")
    assert step_a.parent_span_id == root.span_id
    assert 0.01 <= step_a.duration_s < root.duration_s
    failed, retried = sorted((s for s in kept if s.name == "step b"), key=lambda s: s.start_ns)
    assert failed.status == "error"
    assert failed.status_message == "AgentError: first try fails"
    assert [e.name for e in failed.events] == ["exception", "step_retrying"]
    assert failed.events[1].attributes["baton.attempt"] == 1
    assert retried.status == "unset"
    # Scoped: the same execution seen from another workspace has nothing.
    assert await traces.spans(result.execution_id, workspace_id="ws_b") == []


async def test_the_exporter_forgets_each_span_it_has_written(
    registry: AgentRegistry, tmp_path: Path
) -> None:
    traces = MemoryTraceStore()
    tracing = setup_tracing(settings(tmp_path), traces)
    try:
        provider = tracing.provider
        assert provider is not None
        owners = next(
            p
            for p in provider._active_span_processor._span_processors  # pyright: ignore[reportPrivateUsage]
            if hasattr(p, "owners")
        )
        result = await run(tracing, registry, "ws_a")
        await tracing.flush()
        assert len(await traces.spans(result.execution_id)) >= 5
        assert owners.owners == {}  # pyright: ignore[reportAttributeAccessIssue]
    finally:
        await tracing.shutdown()


async def test_spans_on_sqlite_are_written_while_the_executor_uses_the_same_database(
    database: Database, registry: AgentRegistry, tmp_path: Path
) -> None:
    traces = SqlTraceStore(database)
    tracing = setup_tracing(settings(tmp_path), traces)
    try:
        assert tracing.interceptor is not None
        store = tracing.wrap_store(SqlExecutionStore(database), system=database.dialect)
        options = ExecutorOptions(interceptors=(tracing.interceptor,))
        orchestrator = Orchestrator(registry, store, Executor(registry, store, options=options))
        results = [await orchestrator.run(PLAN.model_copy()) for _ in range(3)]
    finally:
        await tracing.shutdown()  # flushes what is left
    for i, result in enumerate(results):
        kept = await traces.spans(result.execution_id)
        retried = ["step b"] if i == 0 else []  # flaky fails on its very first call only
        names = [s.name for s in kept if not s.name.startswith("store ")]
        assert names == ["execution", "step a", "step b", *retried]
        for store_span in (s for s in kept if s.name.startswith("store ")):
            assert store_span.attributes["db.system.name"] == database.dialect
            assert store_span.duration_s >= 0.001


# --- OTLP -----------------------------------------------------------------------------------


class FakeCollector:
    """A loopback OTLP/HTTP receiver: records the span names of every ``POST /v1/traces``."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.paths: list[str] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.paths.append(self.path)
                for resource_spans in request.resource_spans:
                    for scope_spans in resource_spans.scope_spans:
                        collector.names.extend(s.name for s in scope_spans.spans)
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def collector() -> Iterator[FakeCollector]:
    fake = FakeCollector()
    thread = threading.Thread(target=fake.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        fake.server.shutdown()
        fake.server.server_close()


async def test_spans_go_to_the_otlp_endpoint_when_it_is_set(
    collector: FakeCollector,
    registry: AgentRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", collector.url)
    tracing = setup_tracing(settings(tmp_path, trace_db=False), MemoryTraceStore())
    assert tracing.traces is None
    result = await run(tracing, registry, "ws_a")
    assert result.ok
    with tracing.planning(planner="offline"):  # not an execution's: still exported
        pass
    await tracing.shutdown()
    assert set(collector.paths) == {"/v1/traces"}
    assert {"execution", "step a", "step b", "store append", "plan"} <= set(collector.names)


async def test_without_an_endpoint_nothing_is_sent(
    collector: FakeCollector,
    registry: AgentRegistry,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    tracing = setup_tracing(settings(tmp_path), MemoryTraceStore())
    await run(tracing, registry, "ws_a")
    await tracing.shutdown()
    assert collector.paths == []
