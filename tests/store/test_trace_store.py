"""Conformance suite: every TraceStore implementation must pass all of these."""

from __future__ import annotations

import pytest

from baton.store.sql.database import Database
from baton.store.sql.traces import SqlTraceStore
from baton.store.traces import (
    MemoryTraceStore,
    SpanEventRecord,
    SpanRecord,
    TraceStore,
    span_tree,
)

pytestmark = pytest.mark.anyio

T0 = 1_764_000_000_000_000_000  # ns since the epoch


def span(
    span_id: str,
    parent: str | None,
    start_ms: float,
    end_ms: float,
    *,
    execution_id: str = "ex_1",
    workspace_id: str = "ws_a",
    trace_id: str = "ab" * 16,
    kind: str = "internal",
    **kw: object,
) -> SpanRecord:
    return SpanRecord(
        trace_id=trace_id,
        span_id=span_id,
        parent_span_id=parent,
        execution_id=execution_id,
        workspace_id=workspace_id,
        name=f"span {span_id}",
        kind=kind,
        start_ns=T0 + int(start_ms * 1e6),
        end_ns=T0 + int(end_ms * 1e6),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(store_database: Database | None) -> TraceStore:
    return MemoryTraceStore() if store_database is None else SqlTraceStore(store_database)


async def test_spans_round_trip_with_attributes_events_and_status(store: TraceStore) -> None:
    root = span(
        "0000000000000001",
        None,
        0,
        12.5,
        attributes={"baton.execution_id": "ex_1", "count": 3, "ok": True, "ratio": 0.5},
        status="error",
        status_message="AgentError: boom",
    )
    child = span(
        "0000000000000002",
        "0000000000000001",
        1,
        2,
        kind="client",
        attributes={"tags": ["a", "b"]},
        events=(
            SpanEventRecord(name="step_retrying", time_ns=T0 + 2, attributes={"delay_s": 0.1}),
            SpanEventRecord(name="exception", time_ns=T0 + 3),
        ),
    )
    await store.add([child, root])
    assert await store.spans("ex_1") == [root, child]
    assert root.duration_s == pytest.approx(0.0125)
    # An empty batch is fine.
    await store.add([])


async def test_an_executions_spans_come_by_start_time_scoped_by_workspace(
    store: TraceStore,
) -> None:
    await store.add(
        [
            span("00000000000000b2", None, 5, 6),
            span("00000000000000b1", None, 1, 2),
            span("00000000000000c1", None, 0, 9, execution_id="ex_2"),
            span("00000000000000d1", None, 0, 9, execution_id="ex_3", workspace_id="ws_b"),
        ]
    )
    assert [s.span_id for s in await store.spans("ex_1")] == [
        "00000000000000b1",
        "00000000000000b2",
    ]
    assert [s.span_id for s in await store.spans("ex_1", workspace_id="ws_a")] == [
        "00000000000000b1",
        "00000000000000b2",
    ]
    # Another workspace's execution has no spans for this one, exactly like a missing one.
    assert await store.spans("ex_3", workspace_id="ws_a") == []
    assert await store.spans("ex_missing", workspace_id="ws_a") == []
    assert len(await store.spans("ex_3", workspace_id="ws_b")) == 1


def test_span_tree_is_depth_first_with_siblings_by_start_and_foreign_parents_as_roots() -> None:
    spans = [
        span("r2", "remote-parent", 100, 200),  # a resumed run: its parent is not ours
        span("r1", None, 0, 50),
        span("b", "r1", 20, 30),
        span("a", "r1", 10, 40),
        span("a1", "a", 11, 12),
        span("c", "r2", 110, 120),
    ]
    order = [(n.span.span_id, n.depth) for n in span_tree(spans)]
    assert order == [("r1", 0), ("a", 1), ("a1", 2), ("b", 1), ("r2", 0), ("c", 1)]
