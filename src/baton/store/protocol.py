"""The execution store contract.

Every backend passes the same conformance suite (tests/store/test_execution_store.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from baton.events import ExecutionStatus, RunEvent
from baton.store.records import (
    AgentHistory,
    Checkpoint,
    ExecutionRecord,
    StepRecord,
    StoredEvent,
)


class ExecutionStore(Protocol):
    """Executions, their steps, and the event log that records every change to them."""

    @property
    def append_never_suspends(self) -> bool:
        """True if `append` runs to completion without awaiting anything.

        Then (in memory) a cancellation cannot interrupt it halfway.
        """
        ...

    async def create_execution(
        self, execution: ExecutionRecord, steps: Sequence[StepRecord]
    ) -> None:
        """Insert a new execution with its steps (all pending), atomically."""
        ...

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        """Append events to the log and apply the transitions among them, in one transaction.

        When this returns, the events and the row changes are durable (committed). Returns
        the events with the log positions they were given (what live subscribers are sent).
        """
        ...

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution, or `NotFoundError`."""
        ...

    async def list_executions(
        self,
        *,
        limit: int = 20,
        status: ExecutionStatus | None = None,
        workspace_id: str | None = None,
        before: str | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first.

        Only `workspace_id`'s when given; only those older than the execution `before` (a
        keyset cursor: the last id of the previous page) when given.
        """
        ...

    async def get_steps(self, execution_id: str) -> list[StepRecord]:
        """Steps of an execution in plan order (`NotFoundError` if no such execution)."""
        ...

    async def events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events of an execution with ``seq > after``, oldest first."""
        ...

    async def agent_history(self) -> dict[str, AgentHistory]:
        """Per agent: steps that succeeded and failed, and the mean successful duration."""
        ...

    async def acquire_lease(
        self, execution_id: str, owner: str, ttl_s: float, *, take_from: str | None = None
    ) -> bool:
        """Take the execution's lease for `owner`.

        It is taken if free, expired, already `owner`'s, or held by `take_from` (a holder the
        caller knows to be dead). Returns False when another owner holds an unexpired lease.
        Atomic: of two processes asking at once, at most one gets it.
        """
        ...

    async def renew_lease(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        """Extend `owner`'s lease; False if it was lost (expired and taken by another)."""
        ...

    async def release_lease(self, execution_id: str, owner: str) -> None:
        """Give the lease up (no-op if `owner` does not hold it)."""
        ...

    async def orphaned_executions(self) -> list[ExecutionRecord]:
        """Executions to take up, oldest first.

        Those running, pending, or waiting with every doubt decided, whose lease is free or
        expired.
        """
        ...

    async def compact(self, execution_id: str) -> Checkpoint:
        """Fold a finished execution's event log into a snapshot and delete the events.

        Rows of the execution and its steps are untouched, so what `baton executions show`
        returns does not change. Compacting twice returns the first checkpoint.

        Raises:
            NotFoundError: no such execution.
            UsageError: it has not finished.
        """
        ...

    async def checkpoint(self, execution_id: str) -> Checkpoint | None:
        """The execution's checkpoint, if its log was compacted."""
        ...

    async def request_cancel(self, execution_id: str) -> ExecutionRecord:
        """Flag an execution for cancellation; its runner sees the flag and stops."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...
