"""The log aggregator on real runs: every record carries its execution, step, workspace and
trace; agents' lines, engine records and baton's own loggers all land in the store."""

from __future__ import annotations

import contextlib
import json
import logging
import random
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import pytest
from opentelemetry import trace
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

from baton.agents import AgentContext, AgentRegistry, agent
from baton.core.executor import ExecutionResult, Executor, ExecutorOptions
from baton.core.orchestrator import Orchestrator
from baton.core.plan import Plan, RetryPolicy, Step, StepPolicy
from baton.core.recovery import RetryThenFail
from baton.errors import AgentError
from baton.events import RunEvent, StepFailed, StepLog
from baton.observability.logs import JsonFormatter, LogAggregator
from baton.observability.logs_context import LogContext, current_context, log_context
from baton.observability.logs_redact import Redactor
from baton.observability.tracing import setup_tracing
from baton.settings import Settings
from baton.store import MemoryExecutionStore
from baton.store.logs import LogRecord, MemoryLogStore
from baton.store.traces import MemoryTraceStore

pytestmark = pytest.mark.anyio

TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
EXECUTION_SPAN = 0x00F067AA0BA902B7
SECRET = "s3cr3t-agent-token"
API_TOKEN = "baton_0123456789ab_" + "A" * 43


def span_id_of(step_id: str, attempt: int) -> int:
    return 0x1000 + sum(map(ord, step_id)) * 10 + attempt


class FakeTracing:
    """Makes a (non-recording) span current around runs and attempts, as tracing does."""

    @contextlib.asynccontextmanager
    async def execution(self, execution_id: str, workspace_id: str) -> AsyncIterator[None]:
        with trace.use_span(span(EXECUTION_SPAN)):
            yield

    @contextlib.asynccontextmanager
    async def step_attempt(
        self, execution_id: str, step_id: str, agent: str, attempt: int
    ) -> AsyncIterator[None]:
        with trace.use_span(span(span_id_of(step_id, attempt))):
            yield

    def events(self, events: Sequence[RunEvent]) -> None:
        pass


def span(span_id: int) -> NonRecordingSpan:
    return NonRecordingSpan(
        SpanContext(TRACE_ID, span_id, is_remote=False, trace_flags=TraceFlags(1))
    )


@agent(name="t.chatty", description="Logs through ctx.log and through baton's loggers.")
async def chatty(ctx: AgentContext, text: str = "hi") -> str:
    ctx.log(f"agent says {text}")
    ctx.log("careful now", level="warning")
    ctx.log(f"calling with Authorization: Bearer {SECRET} and {API_TOKEN}")
    logging.getLogger("baton.test.library").info(
        "library line for %s", text, extra={"password": "hunter2", "size": 3}
    )
    return text


@agent(name="t.flaky", description="Fails retryably on its first attempt.")
async def flaky(ctx: AgentContext) -> str:
    if ctx.attempt == 1:
        logging.getLogger("baton.test.library").warning("first try goes wrong")
        raise AgentError("the first try fails", retryable=True)
    return "ok"


@agent(name="t.broken", description="Always fails.")
async def broken() -> str:
    raise AgentError("broken on purpose")


@pytest.fixture
def registry() -> AgentRegistry:
    r = AgentRegistry()
    for a in (chatty, flaky, broken):
        r.register(a)
    return r


async def run(
    registry: AgentRegistry,
    aggregator: LogAggregator,
    plan: Plan,
    *,
    tracing: bool = True,
) -> ExecutionResult:
    store = MemoryExecutionStore()
    interceptors = (FakeTracing(), aggregator.interceptor) if tracing else (aggregator.interceptor,)
    options = ExecutorOptions(interceptors=interceptors, workspace_id="ws_1")
    executor = Executor(registry, store, options=options, recovery=RetryThenFail(random.Random(1)))
    async with aggregator:
        result = await Orchestrator(registry, store, executor).run(plan)
    return result


async def records(store: MemoryLogStore, **kw: object) -> list[LogRecord]:
    found = await store.search(workspace_id=None, limit=1000, **kw)  # type: ignore[arg-type]
    return found[::-1]


def by_message(found: list[LogRecord], text: str) -> LogRecord:
    matches = [r for r in found if text in r.message]
    assert len(matches) == 1, [r.message for r in found]
    return matches[0]


RETRY = StepPolicy(retry=RetryPolicy(max_attempts=2, initial_delay_s=0.0))


async def test_every_record_of_a_run_carries_its_execution_step_workspace_and_trace(
    registry: AgentRegistry,
) -> None:
    store = MemoryLogStore()
    aggregator = LogAggregator(store)
    plan = Plan(
        steps=[
            Step(id="talk", agent="t.chatty", inputs={"text": "hello"}),
            Step(id="retry", agent="t.flaky", policy=RETRY),
        ]
    )

    result = await run(registry, aggregator, plan)

    assert result.ok
    found = await records(store)
    ex = result.execution_id
    for r in found:
        assert (r.execution_id, r.workspace_id, r.trace_id) == (ex, "ws_1", f"{TRACE_ID:032x}")

    said = by_message(found, "agent says hello")
    assert (said.logger, said.level, said.step_id) == ("baton.agent.t.chatty", 20, "talk")
    # The agent's lines reach the interceptor after the commit, yet carry the attempt's span.
    assert said.span_id == f"{span_id_of('talk', 1):016x}"
    assert by_message(found, "careful now").level == 30

    library = by_message(found, "library line for hello")
    assert (library.logger, library.step_id) == ("baton.test.library", "talk")
    assert library.span_id == f"{span_id_of('talk', 1):016x}"
    assert library.extra == {"password": "[REDACTED]", "size": 3}

    first_try = by_message(found, "first try goes wrong")
    assert (first_try.step_id, first_try.span_id) == ("retry", f"{span_id_of('retry', 1):016x}")
    retrying = by_message(found, "step retry attempt 1 failed, retrying")
    assert (retrying.logger, retrying.level, retrying.step_id) == ("baton.run", 30, "retry")
    assert "the first try fails" in retrying.message
    assert retrying.extra == {"event": "step_retrying"}

    started = by_message(found, "execution started (2 steps)")
    finished = by_message(found, "execution succeeded")
    assert (started.level, finished.level) == (20, 20)
    assert started.step_id is None
    assert started.span_id == finished.span_id == f"{EXECUTION_SPAN:016x}"
    # Oldest first here: started is the first record of the run, finished the last.
    assert found[0].message == started.message
    assert found[-1].message == finished.message


async def test_agent_secrets_and_api_keys_never_reach_the_store(registry: AgentRegistry) -> None:
    store = MemoryLogStore()
    aggregator = LogAggregator(store, redactor=Redactor([SECRET]))

    await run(registry, aggregator, Plan(steps=[Step(id="talk", agent="t.chatty")]))

    stored = json.dumps([r.message for r in await records(store)])
    assert SECRET not in stored
    assert API_TOKEN not in stored
    line = by_message(await records(store), "calling with")
    assert line.message == (
        "calling with Authorization: Bearer [REDACTED] and baton_0123456789ab_[REDACTED]"
    )


async def test_failures_are_errors_and_the_finish_says_why(registry: AgentRegistry) -> None:
    store = MemoryLogStore()
    result = await run(registry, LogAggregator(store), Plan(steps=[Step(id="b", agent="t.broken")]))

    assert not result.ok
    errors = await records(store, min_level=40)
    assert len(errors) == 2
    assert (errors[0].step_id, errors[0].message) == (
        "b",
        "step b failed after 1 attempt(s): AgentError: broken on purpose",
    )
    assert errors[1].step_id is None
    assert errors[1].message.startswith("execution failed")


async def test_with_real_tracing_carrying_the_log_context_records_keep_step_and_span(
    registry: AgentRegistry, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    traces = MemoryTraceStore()
    tracing = setup_tracing(settings, traces)
    store = MemoryLogStore()
    aggregator = LogAggregator(store)
    assert tracing.interceptor is not None
    tracer = tracing.tracer

    @agent(name="t.nested", description="Logs from a task it starts and from a child span.")
    async def nested() -> str:
        async def helper() -> None:
            logging.getLogger("baton.test.library").info("from a task of the attempt")

        async with anyio.create_task_group() as tg:
            tg.start_soon(helper)
        with tracer.start_as_current_span("child"):
            logging.getLogger("baton.test.library").info("inside a child span")
        return "ok"

    registry.register(nested)
    # One context write per attempt: the log interceptor leaves attempts to tracing.
    assert tracing.interceptor.carry_log_context(aggregator.interceptor)
    assert aggregator.interceptor.watches_attempts is False
    plan = Plan(
        steps=[
            Step(id="talk", agent="t.chatty", inputs={"text": "hello"}),
            Step(id="retry", agent="t.flaky", policy=RETRY),
            Step(id="deep", agent="t.nested"),
        ]
    )
    options = ExecutorOptions(
        interceptors=(tracing.interceptor, aggregator.interceptor), workspace_id="ws_1"
    )
    executions = MemoryExecutionStore()
    executor = Executor(
        registry, executions, options=options, recovery=RetryThenFail(random.Random(1))
    )
    try:
        async with aggregator:
            result = await Orchestrator(registry, executions, executor).run(plan)
        await tracing.flush()
    finally:
        await tracing.shutdown()

    assert result.ok
    spans = await traces.spans(result.execution_id)
    attempts = {
        (s.attributes["baton.step_id"], s.attributes["baton.attempt"]): s.span_id
        for s in spans
        if s.name.startswith("step ")
    }
    assert set(attempts) == {("talk", 1), ("retry", 1), ("retry", 2), ("deep", 1)}
    found = await records(store)
    ex = result.execution_id
    assert {(r.execution_id, r.workspace_id) for r in found} == {(ex, "ws_1")}
    # A line of the agent's (reaching the interceptor after the commit) and a library's
    # (made while the attempt ran, its context read then) both carry the attempt's span.
    said = by_message(found, "agent says hello")
    assert (said.logger, said.step_id, said.span_id) == (
        "baton.agent.t.chatty",
        "talk",
        attempts["talk", 1],
    )
    library = by_message(found, "library line for hello")
    assert (library.step_id, library.span_id) == ("talk", attempts["talk", 1])
    first_try = by_message(found, "first try goes wrong")
    assert (first_try.step_id, first_try.span_id) == ("retry", attempts["retry", 1])
    retrying = by_message(found, "step retry attempt 1 failed, retrying")
    assert (retrying.step_id, retrying.span_id) == ("retry", attempts["retry", 1])
    # Tasks the attempt starts, and spans within it, keep the step.
    in_task = by_message(found, "from a task of the attempt")
    assert (in_task.step_id, in_task.span_id) == ("deep", attempts["deep", 1])
    in_child = by_message(found, "inside a child span")
    assert in_child.step_id == "deep"
    # The child span's own ids; the span itself is kept, under the attempt's.
    child = next(s for s in spans if s.name == "child")
    assert (child.parent_span_id, child.execution_id) == (attempts["deep", 1], ex)
    assert in_child.span_id == child.span_id
    started = by_message(found, "execution started (3 steps)")
    assert started.step_id is None
    assert current_context() == LogContext()


async def test_without_tracing_records_have_no_trace_and_debug_is_off(
    registry: AgentRegistry,
) -> None:
    store = MemoryLogStore()
    await run(
        registry,
        LogAggregator(store),
        Plan(steps=[Step(id="talk", agent="t.chatty")]),
        tracing=False,
    )

    found = await records(store)
    assert found
    assert {(r.trace_id, r.span_id) for r in found} == {(None, None)}
    assert not [r for r in found if "succeeded in" in r.message]  # debug records are off


async def test_debug_level_logs_step_starts_and_successes(registry: AgentRegistry) -> None:
    store = MemoryLogStore()
    await run(
        registry,
        LogAggregator(store, level=logging.DEBUG),
        Plan(steps=[Step(id="talk", agent="t.chatty")]),
    )

    found = await records(store)
    assert by_message(found, "step talk attempt 1 started (t.chatty)").level == 10
    assert by_message(found, "step talk succeeded in").level == 10


async def test_context_is_reset_after_runs_and_attempts(registry: AgentRegistry) -> None:
    store = MemoryLogStore()
    await run(registry, LogAggregator(store), Plan(steps=[Step(id="talk", agent="t.chatty")]))

    assert current_context().execution_id is None
    with log_context(execution_id="ex_x", workspace_id="ws_x"):
        with log_context(step_id="s"):
            assert current_context() == type(current_context())("ex_x", "ws_x", "s")
        assert current_context().step_id is None
    assert current_context().workspace_id is None


async def test_two_aggregators_in_one_process_keep_their_engines_records_apart(
    registry: AgentRegistry,
) -> None:
    mine, theirs = MemoryLogStore(), MemoryLogStore()
    other = LogAggregator(theirs)
    async with other:
        await run(registry, LogAggregator(mine), Plan(steps=[Step(id="b", agent="t.broken")]))

    assert by_message(await records(mine), "step b failed")
    engine = [r for r in await records(theirs) if r.logger.startswith(("baton.run", "baton.agent"))]
    assert engine == []


def test_json_formatter_writes_one_redacted_line_with_the_context() -> None:
    logger = logging.getLogger("baton.test.json")
    record = logger.makeRecord(
        "baton.test.json",
        logging.ERROR,
        __file__,
        1,
        "failed with token=%s",
        ("abc123xyz",),
        None,
        extra={"attempt": 2},
    )
    with log_context(execution_id="ex_1", workspace_id="ws_1", step_id="a"):
        line = JsonFormatter().format(record)

    data = json.loads(line)
    assert "\n" not in line
    assert data["message"] == "failed with token=[REDACTED]"
    assert (data["level"], data["logger"]) == ("error", "baton.test.json")
    assert (data["execution_id"], data["workspace_id"], data["step_id"]) == ("ex_1", "ws_1", "a")
    assert data["extra"] == {"attempt": 2}
    assert data["at"].endswith("+00:00")


def test_exceptions_are_kept_redacted_in_extra() -> None:
    logger = logging.getLogger("baton.test.exc")
    try:
        raise ValueError("password=hunter2 in the message")
    except ValueError:
        record = logger.makeRecord(
            "baton.test.exc", logging.ERROR, __file__, 1, "oops", (), sys.exc_info()
        )
    data = json.loads(JsonFormatter().format(record))
    assert "ValueError: password=[REDACTED] in the message" in data["extra"]["exception"]
    assert "hunter2" not in json.dumps(data)


async def test_a_refused_second_run_keeps_the_first_runs_state_and_says_why() -> None:
    store = MemoryLogStore()
    aggregator = LogAggregator(store)
    interceptor = aggregator.interceptor
    async with aggregator, interceptor.execution("ex_1", "ws_1"):
        async with interceptor.step_attempt("ex_1", "a", "t.chatty", 1):
            pass
        with pytest.raises(RuntimeError, match="held by another"):
            async with interceptor.execution("ex_1", "ws_1"):
                raise RuntimeError("the lease is held by another process")
        interceptor.events([StepLog(execution_id="ex_1", step_id="a", message="still mine")])
        assert "ex_1" in interceptor.runs
    assert interceptor.runs == {}

    found = await records(store)
    refused = by_message(found, "the run of the execution ended with RuntimeError")
    assert (refused.level, refused.workspace_id) == (40, "ws_1")
    assert by_message(found, "still mine").logger == "baton.agent.t.chatty"


def test_events_never_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    interceptor = LogAggregator(MemoryLogStore()).interceptor

    def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a handler failed")

    monkeypatch.setattr(interceptor, "emit", boom)
    interceptor.events(
        [
            StepLog(execution_id="ex_1", step_id="a", message="x"),
            StepFailed(execution_id="ex_1", step_id="a"),
        ]
    )
