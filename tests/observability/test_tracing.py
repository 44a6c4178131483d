"""Spans of real runs through the executor: tree, durations, events, errors, secrets, HTTP."""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from fastapi import FastAPI, Request
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from baton.agents import AgentContext, AgentRegistry, agent
from baton.agents.builtin import AgentResources
from baton.agents.builtin import http as http_agents
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.ladder import LadderPolicy
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.core.recovery import RecoveryPolicy, RetryThenFail
from baton.errors import AgentError, StoreError
from baton.events import ExecutionStatus, RunEvent
from baton.observability.tracing import Tracing, TracingInterceptor, setup_tracing
from baton.observability.tracing_http import URL_ATTRIBUTES
from baton.settings import Settings
from baton.store import MemoryExecutionStore
from baton.store.calendar import MemoryCalendarStore
from baton.store.records import StoredEvent
from support.live_server import live_server

pytestmark = pytest.mark.anyio

CONFIGURED_SECRET = "hunter2-configured-secret"
TOKEN_LIKE = "sk-live-0123456789abcdefABCDEF"


def settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None, **kw)  # type: ignore[call-arg]


@dataclass
class Traced:
    tracing: Tracing
    exporter: InMemorySpanExporter

    @property
    def interceptor(self) -> TracingInterceptor:
        assert self.tracing.interceptor is not None
        return self.tracing.interceptor

    def spans(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans() if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [s.name for s in self.spans()]
        return found[0]

    async def run(
        self,
        registry: AgentRegistry,
        plan: Plan,
        *,
        recovery: RecoveryPolicy | None = None,
        secrets: dict[str, str] | None = None,
    ) -> ExecutionResult:
        # A store that suspends on commit, as a database does (the in-memory one is not
        # wrapped: see the last test of this section).
        store = self.tracing.wrap_store(Commits(0.0), system="sqlite")
        options = ExecutorOptions(
            interceptors=(self.interceptor,), workspace_id="ws_t", secrets=secrets or {}
        )
        executor = Executor(registry, store, options=options, recovery=recovery)
        return await Orchestrator(registry, store, executor).run(plan)


@pytest.fixture
async def traced(tmp_path: Path) -> AsyncIterator[Traced]:
    exporter = InMemorySpanExporter()
    tracing = setup_tracing(
        settings(tmp_path, trace_store_min_ms=0),  # every store transaction is a span
        None,
        secrets=[CONFIGURED_SECRET],
        processors=[SimpleSpanProcessor(exporter)],
    )
    try:
        yield Traced(tracing, exporter)
    finally:
        await tracing.shutdown()


def parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.span_id


def trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return span.context.trace_id


def duration_s(span: ReadableSpan) -> float:
    assert span.start_time is not None
    assert span.end_time is not None
    return (span.end_time - span.start_time) / 1e9


def event_names(span: ReadableSpan) -> list[str]:
    return [e.name for e in span.events]


# --- agents ---------------------------------------------------------------------------------


@agent(description="Sleep for a while.")
async def nap(seconds: float = 0.0) -> float:
    await anyio.sleep(seconds)
    return seconds


@agent(description="Always fails, not retryable.")
async def broken() -> str:
    raise AgentError("broken on purpose")


@agent(description="Fails with its token in the message.")
async def leaky(token: str, ctx: AgentContext) -> str:
    raise AgentError(
        f"login failed for token={token}; also tried {ctx.secrets['api']} "
        f"and Authorization: Bearer {token}"
    )


@pytest.fixture
def registry() -> AgentRegistry:
    r = AgentRegistry()
    for a in (nap, broken, leaky):
        r.register(a)
    return r


# --- the tree -------------------------------------------------------------------------------


async def test_steps_and_store_transactions_nest_under_the_execution_root(
    traced: Traced, registry: AgentRegistry
) -> None:
    plan = Plan(
        steps=[
            Step(id="a", agent="nap", inputs={"seconds": 0.05}),
            Step(id="b", agent="nap", inputs={"seconds": 0.02}, depends_on=["a"]),
            Step(id="c", agent="nap", inputs={"seconds": 0.0}),
        ]
    )
    result = await traced.run(registry, plan)
    assert result.ok

    root = traced.one("execution")
    assert root.parent is None  # no caller's context: a trace of its own
    assert root.attributes is not None
    assert root.attributes["baton.execution_id"] == result.execution_id
    assert root.attributes["baton.workspace_id"] == "ws_t"
    assert root.attributes["baton.step_count"] == 3
    assert root.attributes["baton.status"] == "succeeded"
    assert root.status.status_code is StatusCode.UNSET

    steps = {s.name: s for s in traced.spans() if s.name.startswith("step ")}
    assert set(steps) == {"step a", "step b", "step c"}
    for step in steps.values():
        assert parent_id(step) == span_id(root)
        assert trace_id(step) == trace_id(root)
        assert step.attributes is not None
        assert step.attributes["baton.agent"] == "nap"
        assert step.attributes["baton.attempt"] == 1
        assert step.status.status_code is StatusCode.UNSET
    a, b = steps["step a"], steps["step b"]
    assert a.attributes is not None
    assert a.attributes["baton.step_id"] == "a"
    # Durations are the agents' own, and b ran after a.
    assert 0.05 <= duration_s(a) < 1.0
    assert 0.02 <= duration_s(b) < 1.0
    assert a.end_time is not None
    assert b.start_time is not None
    assert b.start_time >= a.end_time
    assert duration_s(root) >= duration_s(a) + duration_s(b)

    appends = traced.named("store append")
    assert appends, "group commits are spans"
    assert all(parent_id(s) == span_id(root) for s in appends)
    total = 0
    for s in appends:
        assert s.attributes is not None
        total += int(s.attributes["baton.event_count"])  # type: ignore[arg-type]
    assert total >= 2 + 2 * 3  # started and finished, and each step's start and success
    leases = [s.name for s in traced.spans() if "lease" in s.name]
    assert "store acquire_lease" in leases
    assert "store release_lease" in leases


class Commits(MemoryExecutionStore):
    """Commits that take `delay_s`, and fail when `fail` is set."""

    def __init__(self, delay_s: float) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.fail = False

    @property
    def append_never_suspends(self) -> bool:
        return False

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        await anyio.sleep(self.delay_s)
        if self.fail:
            raise StoreError("the disk is full")
        return await super().append(events)


async def test_the_in_memory_store_is_not_wrapped(traced: Traced) -> None:
    # Its commits are dict updates that never suspend: nothing a span would show.
    memory = MemoryExecutionStore()
    assert traced.tracing.wrap_store(memory) is memory
    database_like = Commits(0.0)
    assert traced.tracing.wrap_store(database_like, system="sqlite") is not database_like


async def test_quick_store_transactions_make_no_span_but_slow_and_failed_ones_do(
    tmp_path: Path, registry: AgentRegistry
) -> None:
    exporter = InMemorySpanExporter()
    tracing = setup_tracing(
        settings(tmp_path, trace_store_min_ms=20), None, processors=[SimpleSpanProcessor(exporter)]
    )
    try:
        assert tracing.interceptor is not None
        plan = Plan(steps=[Step(id="a", agent="nap")])
        for delay_s in (0.0, 0.03):
            store = tracing.wrap_store(Commits(delay_s), system="sqlite")
            options = ExecutorOptions(interceptors=(tracing.interceptor,))
            executor = Executor(registry, store, options=options)
            assert (await Orchestrator(registry, store, executor).run(plan)).ok
        quick, slow = (
            [s for s in exporter.get_finished_spans() if parent_id(s) == span_id(root)]
            for root in sorted(
                (s for s in exporter.get_finished_spans() if s.name == "execution"),
                key=lambda s: s.start_time or 0,
            )
        )
        assert [s.name for s in quick] == ["step a"]  # leases and commits in memory: quick
        appends = [s for s in slow if s.name == "store append"]
        assert len(appends) >= 2  # at least the start and the end, each a 30 ms commit
        for span in appends:
            assert duration_s(span) >= 0.03
            assert span.attributes is not None
            assert span.attributes["db.system.name"] == "sqlite"

        # A failing commit is a span however quick (and the run stops on it).
        failing = Commits(0.0)
        store = tracing.wrap_store(failing)
        executor = Executor(
            registry, store, options=ExecutorOptions(interceptors=(tracing.interceptor,))
        )
        record = await Orchestrator(registry, store, executor).create(plan)
        failing.fail = True
        with pytest.raises(ExceptionGroup) as raised:
            await executor.execute(record.id, plan)
        assert raised.group_contains(StoreError)
        (failed,) = [
            s
            for s in exporter.get_finished_spans()
            if s.name == "store append" and s.status.status_code is StatusCode.ERROR
        ]
        assert failed.attributes is not None
        assert failed.attributes["error.type"] == "StoreError"
    finally:
        await tracing.shutdown()


async def test_a_retry_is_an_event_of_the_failed_attempt_whose_span_keeps_its_duration(
    traced: Traced, registry: AgentRegistry
) -> None:
    calls = {"n": 0}

    @agent(description="Fails once after a while, then works.")
    async def flaky() -> str:
        calls["n"] += 1
        if calls["n"] == 1:
            await anyio.sleep(0.03)
            raise AgentError("first try fails", retryable=True)
        return "ok"

    registry.register(flaky)
    retry = StepPolicy(retry=RetryPolicy(max_attempts=2, initial_delay_s=0.2))
    plan = Plan(steps=[Step(id="f", agent="flaky", policy=retry)])
    result = await traced.run(registry, plan, recovery=RetryThenFail(random.Random(1)))
    assert result.ok

    root = traced.one("execution")
    first, second = sorted(traced.named("step f"), key=lambda s: s.start_time or 0)
    assert first.attributes is not None
    assert second.attributes is not None
    assert (first.attributes["baton.attempt"], second.attributes["baton.attempt"]) == (1, 2)
    assert first.status.status_code is StatusCode.ERROR
    assert first.status.description == "AgentError: first try fails"
    assert second.status.status_code is StatusCode.UNSET
    assert event_names(first) == ["exception", "step_retrying"]
    retrying = first.events[1]
    assert retrying.attributes is not None
    assert retrying.attributes["baton.attempt"] == 1
    assert float(retrying.attributes["baton.delay_s"]) > 0  # type: ignore[arg-type]
    # The attempt's span is the attempt: the back-off before the next is not in it.
    delay_ns = float(retrying.attributes["baton.delay_s"]) * 1e9  # type: ignore[arg-type]
    assert 0.03 <= duration_s(first) < 0.2
    assert first.end_time is not None
    assert second.start_time is not None
    assert second.start_time - first.end_time >= delay_ns
    assert parent_id(first) == parent_id(second) == span_id(root)
    assert event_names(root) == []


async def test_an_alternative_agent_is_a_recovery_event_and_the_next_attempt_uses_it(
    traced: Traced, registry: AgentRegistry
) -> None:
    @agent(name="greet.primary", description="Greets; always fails.", capability="greet")
    async def primary() -> str:
        raise AgentError("primary is down")

    @agent(name="greet.backup", description="Greets.", capability="greet")
    async def backup() -> str:
        return "hello"

    registry.register(primary)
    registry.register(backup)
    plan = Plan(steps=[Step(id="g", agent="greet.primary")])
    result = await traced.run(registry, plan, recovery=LadderPolicy(registry, random.Random(1)))
    assert result.ok

    first, second = sorted(traced.named("step g"), key=lambda s: s.start_time or 0)
    assert first.attributes is not None
    assert second.attributes is not None
    assert first.attributes["baton.agent"] == "greet.primary"
    assert second.attributes["baton.agent"] == "greet.backup"
    assert event_names(first) == ["exception", "step_recovery"]
    rung = first.events[1].attributes
    assert rung is not None
    assert rung["baton.rung"] == "alternative"
    assert rung["baton.agent"] == "greet.primary"
    assert rung["baton.error_class"] == "permanent"
    assert second.status.status_code is StatusCode.UNSET


async def test_a_failing_agent_marks_its_span_and_the_root_as_errors(
    traced: Traced, registry: AgentRegistry
) -> None:
    plan = Plan(
        steps=[
            Step(id="x", agent="broken"),
            Step(id="after", agent="nap", depends_on=["x"]),
        ]
    )
    result = await traced.run(registry, plan)
    assert result.status is ExecutionStatus.FAILED

    root = traced.one("execution")
    step = traced.one("step x")
    assert step.status.status_code is StatusCode.ERROR
    assert step.attributes is not None
    assert step.attributes["error.type"] == "AgentError"
    exception, failed = step.events
    assert exception.name == "exception"
    assert exception.attributes is not None
    assert exception.attributes["exception.type"] == "baton.errors.AgentError"
    assert exception.attributes["exception.message"] == "broken on purpose"
    assert "Traceback" in str(exception.attributes["exception.stacktrace"])
    assert failed.name == "step_failed"
    assert failed.attributes is not None
    assert failed.attributes["baton.error_type"] == "AgentError"
    assert traced.named("step after") == []  # skipped: it never ran
    assert root.status.status_code is StatusCode.ERROR
    assert root.attributes is not None
    assert root.attributes["baton.status"] == "failed"
    assert "broken on purpose" in (root.status.description or "")


async def test_timed_out_attempts_are_error_spans_with_their_decisions(
    traced: Traced, registry: AgentRegistry
) -> None:
    policy = StepPolicy(timeout_s=0.05, retry=RetryPolicy(max_attempts=2, initial_delay_s=0.0))
    plan = Plan(steps=[Step(id="slow", agent="nap", inputs={"seconds": 5}, policy=policy)])
    result = await traced.run(registry, plan)
    assert result.status is ExecutionStatus.FAILED
    first, second = sorted(traced.named("step slow"), key=lambda s: s.start_time or 0)
    for attempt in (first, second):
        assert attempt.status.status_code is StatusCode.ERROR
        assert attempt.attributes is not None
        assert attempt.attributes["error.type"] == "CancelledError"
        assert 0.04 <= duration_s(attempt) < 1.0
    assert event_names(first) == ["step_retrying"]
    assert event_names(second) == ["step_failed"]
    failed = second.events[0].attributes
    assert failed is not None
    assert failed["baton.error_type"] == "StepTimeoutError"


async def test_an_approval_and_the_wait_are_events_of_the_root(
    traced: Traced, registry: AgentRegistry, tmp_path: Path
) -> None:
    from baton.safety.approvals import Approvals
    from baton.store.approvals import MemoryApprovalStore

    approvals = Approvals.from_settings(MemoryApprovalStore(), settings(tmp_path))
    store = traced.tracing.wrap_store(MemoryExecutionStore())
    options = ExecutorOptions(interceptors=(traced.interceptor,), approvals=approvals)
    executor = Executor(registry, store, options=options)
    plan = Plan(steps=[Step(id="gated", agent="nap", policy=StepPolicy(critical=True))])
    result = await Orchestrator(registry, store, executor).run(plan)
    assert result.status is ExecutionStatus.WAITING

    root = traced.one("execution")
    assert event_names(root) == ["approval", "execution_waiting"]
    approval = root.events[0].attributes
    assert approval is not None
    assert approval["baton.step_id"] == "gated"
    assert root.attributes is not None
    assert root.attributes["baton.status"] == "waiting"
    assert traced.named("step gated") == []


# --- secrets --------------------------------------------------------------------------------


def everything_in(spans: list[ReadableSpan]) -> str:
    return "\n".join(s.to_json() for s in spans)


async def test_no_secret_reaches_a_span(traced: Traced, registry: AgentRegistry) -> None:
    plan = Plan(steps=[Step(id="login", agent="leaky", inputs={"token": TOKEN_LIKE})])
    result = await traced.run(registry, plan, secrets={"api": CONFIGURED_SECRET})
    assert result.status is ExecutionStatus.FAILED
    assert TOKEN_LIKE in result.errors["login"]  # the agent did put it in its error

    dump = everything_in(traced.spans())
    assert TOKEN_LIKE not in dump
    assert CONFIGURED_SECRET not in dump
    assert "token=***" in dump  # the message is there, masked
    assert "Bearer ***" in dump


# --- outbound HTTP --------------------------------------------------------------------------


@dataclass
class Echo:
    url: str
    seen: list[dict[str, str]]


@pytest.fixture
async def echo_server() -> AsyncIterator[Echo]:
    """A loopback HTTP server that records the headers of every request."""
    seen: list[dict[str, str]] = []
    app = FastAPI()

    @app.get("/{path:path}")
    async def record(request: Request) -> dict[str, str]:  # pyright: ignore[reportUnusedFunction]
        seen.append(dict(request.headers))
        return {"ok": "yes"}

    async with live_server(app) as server:
        yield Echo(server.url, seen)


@pytest.fixture
def http_registry(tmp_path: Path) -> AgentRegistry:
    r = AgentRegistry()
    resources = AgentResources(workspace=tmp_path, calendar=MemoryCalendarStore())
    r.register_all(http_agents.agents(resources), source="builtin")
    return r


def traceparent_ids(header: str) -> tuple[int, int]:
    version, trace, parent, flags = header.split("-")
    assert version == "00"
    assert int(flags, 16) & 1, "sampled"
    return int(trace, 16), int(parent, 16)


async def test_an_agents_http_call_carries_the_steps_trace_context(
    traced: Traced, http_registry: AgentRegistry, echo_server: Echo
) -> None:
    url = f"{echo_server.url}/items?api_key={TOKEN_LIKE}&page=2"
    plan = Plan(
        steps=[
            Step(
                id="fetch",
                agent="http.get",
                inputs={"url": url, "headers": {"Authorization": f"Bearer {CONFIGURED_SECRET}"}},
            )
        ]
    )
    result = await traced.run(http_registry, plan)
    assert result.ok, result.errors

    (headers,) = echo_server.seen
    step = traced.one("step fetch")
    (client,) = [s for s in traced.spans() if parent_id(s) == span_id(step)]
    assert client.name == "GET"
    sent_trace, sent_parent = traceparent_ids(headers["traceparent"])
    assert sent_trace == trace_id(step) == trace_id(traced.one("execution"))
    assert sent_parent == span_id(client)
    # The client span names the host and path, never the query or the header's token.
    assert client.attributes is not None
    urls = [client.attributes[k] for k in URL_ATTRIBUTES if k in client.attributes]
    assert urls == [f"{echo_server.url}/items"]
    dump = everything_in(traced.spans())
    assert TOKEN_LIKE not in dump
    assert CONFIGURED_SECRET not in dump

    # Outside a traced run, httpx calls carry no trace context and make no span.
    before = len(traced.spans())
    async with httpx.AsyncClient() as client_outside:
        await client_outside.get(f"{echo_server.url}/plain")
    assert "traceparent" not in echo_server.seen[-1]
    assert len(traced.spans()) == before


async def test_after_shutdown_http_calls_are_not_traced_any_more(
    tmp_path: Path, echo_server: Echo
) -> None:
    exporter = InMemorySpanExporter()
    tracing = setup_tracing(settings(tmp_path), None, processors=[SimpleSpanProcessor(exporter)])
    async with httpx.AsyncClient() as client:
        with tracing.tracer.start_as_current_span("outer"):
            await client.get(f"{echo_server.url}/traced")
        assert "traceparent" in echo_server.seen[-1]
        await tracing.shutdown()
        with tracing.tracer.start_as_current_span("outer"):
            await client.get(f"{echo_server.url}/after")
    assert "traceparent" not in echo_server.seen[-1]


# --- switched off ---------------------------------------------------------------------------


async def test_tracing_off_makes_nothing(tmp_path: Path, registry: AgentRegistry) -> None:
    tracing = setup_tracing(settings(tmp_path, tracing=False), None)
    try:
        assert not tracing.enabled
        assert tracing.interceptor is None
        store = MemoryExecutionStore()
        assert tracing.wrap_store(store) is store
        with tracing.planning(planner="offline") as span:
            assert not span.is_recording()
    finally:
        await tracing.shutdown()


def test_span_json_is_searchable() -> None:
    # `everything_in` relies on to_json() carrying attributes and events verbatim.
    exporter = InMemorySpanExporter()
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with provider.get_tracer("t").start_as_current_span("s", attributes={"k": "needle-1"}) as s:
        s.add_event("e", {"k2": "needle-2"})
    dump = json.loads(exporter.get_finished_spans()[0].to_json())
    assert dump["attributes"]["k"] == "needle-1"
    assert dump["events"][0]["attributes"]["k2"] == "needle-2"
    provider.shutdown()
