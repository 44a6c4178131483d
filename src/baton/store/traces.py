"""Finished spans of executions, kept for ``baton traces show`` and the dashboard.

`baton.observability.tracing` makes OpenTelemetry spans of each execution (the root), its
steps, agent and model calls and store transactions; an exporter turns every finished span
that belongs to an execution into a `SpanRecord` and hands batches of them to a `TraceStore`.
Like every workspace-owned row, a span carries its workspace id, and `TraceStore.spans` is
scoped by it.

A resumed execution has one root span per run (each run is its own trace, or a part of the
trace of the API request that resumed it), so an execution's spans may form several trees;
`span_tree` orders them for display.

The SQL implementation is `baton.store.sql.traces.SqlTraceStore`; both pass
``tests/store/test_trace_store.py``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = [
    "SpanEventRecord",
    "SpanNode",
    "SpanRecord",
    "SpanStatus",
    "MemoryTraceStore",
    "TraceStore",
    "span_tree",
]

SpanStatus = Literal["unset", "ok", "error"]
"""The OpenTelemetry status of a span, in lower case."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SpanEventRecord:
    """Something that happened during a span (a retry, a recovery rung, an exception)."""

    name: str
    """E.g. ``step_retrying``, ``exception``."""
    time_ns: int
    """When, in nanoseconds since the Unix epoch."""
    attributes: dict[str, Any] = field(default_factory=dict[str, Any])
    """Its attributes (JSON values)."""


@dataclass(slots=True)
class SpanRecord:
    """One finished span of an execution; treat it as read-only.

    Not frozen on purpose: one is made for every span kept (a step attempt's, on the span
    exporter's thread, which holds the GIL meanwhile), and a frozen dataclass's ``__init__``
    sets each of its 13 fields through ``object.__setattr__``, more than twice the cost of
    plain assignments. Not keyword-only for the same reason: the exporter's hot path passes
    the fields by position, a third of the cost of 13 keywords (other callers name them).
    """

    trace_id: str
    """32 lower-case hex digits."""
    span_id: str
    """16 lower-case hex digits."""
    parent_span_id: str | None
    """The parent's span id; None for a root (or a parent outside this process)."""
    execution_id: str
    """The execution whose run made the span."""
    workspace_id: str
    """The execution's workspace."""
    name: str
    """E.g. ``execution``, ``step fetch``, ``store append``."""
    kind: str
    """``internal``, ``client``, ``server``, ``producer`` or ``consumer``."""
    start_ns: int
    """Start, in nanoseconds since the Unix epoch."""
    end_ns: int
    """End, in nanoseconds since the Unix epoch."""
    status: SpanStatus = "unset"
    """``error`` when what the span covers failed."""
    status_message: str | None = None
    """Why it failed (redacted: never a secret)."""
    attributes: dict[str, Any] = field(default_factory=dict[str, Any])
    """Its attributes (JSON values)."""
    events: tuple[SpanEventRecord, ...] = ()
    """What happened during it, oldest first."""

    @property
    def duration_s(self) -> float:
        """How long it lasted, in seconds."""
        return max(0, self.end_ns - self.start_ns) / 1e9


@dataclass(frozen=True, slots=True)
class SpanNode:
    """A span in its tree: its depth (0 for a root) and its place in depth-first order."""

    span: SpanRecord
    """The span."""
    depth: int
    """0 for a root, 1 for its children..."""


class TraceStore(Protocol):
    """Where finished spans are kept; scoped by workspace."""

    async def add(self, spans: Sequence[SpanRecord]) -> None:
        """Keep `spans` (one batch, in one transaction)."""
        ...

    async def spans(
        self, execution_id: str, *, workspace_id: str | None = None
    ) -> list[SpanRecord]:
        """The spans of an execution, by start time (empty when it has none).

        Args:
            execution_id: The execution.
            workspace_id: Only if the execution is in this workspace (None: any workspace,
                for the local command line).
        """
        ...


def span_tree(spans: Iterable[SpanRecord]) -> list[SpanNode]:
    """`spans` depth first, each after its parent, siblings (and roots) by start time.

    A span whose parent is not among `spans` (a run's root, whose parent may be the API
    request that started it) is a root.
    """
    ordered = sorted(spans, key=lambda s: (s.start_ns, s.span_id))
    ids = {s.span_id for s in ordered}
    children: dict[str | None, list[SpanRecord]] = {}
    for s in ordered:
        parent = s.parent_span_id if s.parent_span_id in ids else None
        children.setdefault(parent, []).append(s)
    out: list[SpanNode] = []
    stack = [(s, 0) for s in reversed(children.get(None, []))]
    while stack:
        span, depth = stack.pop()
        out.append(SpanNode(span, depth))
        stack.extend((c, depth + 1) for c in reversed(children.get(span.span_id, [])))
    return out


class MemoryTraceStore:
    """A `TraceStore` in a list: one process only (tests, running without a database)."""

    def __init__(self) -> None:
        """Start empty."""
        self._by_execution: dict[str, list[SpanRecord]] = {}

    async def add(self, spans: Sequence[SpanRecord]) -> None:
        """Keep `spans`."""
        for s in spans:
            self._by_execution.setdefault(s.execution_id, []).append(s)

    async def spans(
        self, execution_id: str, *, workspace_id: str | None = None
    ) -> list[SpanRecord]:
        """The execution's spans, by start time."""
        found = [
            s
            for s in self._by_execution.get(execution_id, [])
            if workspace_id is None or s.workspace_id == workspace_id
        ]
        found.sort(key=lambda s: (s.start_ns, s.span_id))
        return found
