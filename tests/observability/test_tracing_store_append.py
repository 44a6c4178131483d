"""The group commit's span (`TracedExecutionStore.append`): made after the fact, errors too."""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from baton.events import ExecutionStarted, RunEvent
from baton.observability.tracing_store import TracedExecutionStore
from baton.store import MemoryExecutionStore
from baton.store.records import StoredEvent

pytestmark = pytest.mark.anyio


class FailingStore(MemoryExecutionStore):
    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        raise RuntimeError("disk full")


def traced(
    inner: MemoryExecutionStore,
) -> tuple[TracedExecutionStore, TracerProvider, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    store = TracedExecutionStore(inner, provider.get_tracer("test"), system="sqlite")
    return store, provider, exporter


async def test_a_failed_commit_is_an_error_span_and_the_error_goes_on() -> None:
    store, provider, exporter = traced(FailingStore())
    with (
        provider.get_tracer("test").start_as_current_span("execution"),
        pytest.raises(RuntimeError, match="disk full"),
    ):
        await store.append([ExecutionStarted(execution_id="ex_1")])
    [span] = [s for s in exporter.get_finished_spans() if s.name == "store append"]
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes is not None
    assert span.attributes["error.type"] == "RuntimeError"
    assert span.attributes["baton.event_count"] == 1
    assert span.attributes["db.system.name"] == "sqlite"


async def test_commits_outside_a_traced_run_make_no_span() -> None:
    store, _, exporter = traced(FailingStore())
    with pytest.raises(RuntimeError):
        await store.append([ExecutionStarted(execution_id="ex_1")])
    assert exporter.get_finished_spans() == ()
