"""A base for stores that wrap an `ExecutionStore` and change a few of its methods.

`DelegatingExecutionStore` hands every method of the protocol to `inner`; a wrapper (the
event publisher in `baton.streaming`, the span maker in `baton.observability`) subclasses it
and overrides only what it adds to.
"""

from __future__ import annotations

from collections.abc import Sequence

from baton.events import ExecutionStatus, RunEvent
from baton.store.protocol import ExecutionStore
from baton.store.records import (
    AgentHistory,
    Checkpoint,
    ExecutionRecord,
    StepRecord,
    StoredEvent,
)

__all__ = ["DelegatingExecutionStore"]


class DelegatingExecutionStore:
    """An `ExecutionStore` that does whatever `inner` does."""

    def __init__(self, inner: ExecutionStore) -> None:
        """Delegate to `inner`."""
        self.inner = inner
        """The store that does the work."""

    @property
    def append_never_suspends(self) -> bool:
        """As the inner store."""
        return self.inner.append_never_suspends

    async def create_execution(
        self, execution: ExecutionRecord, steps: Sequence[StepRecord]
    ) -> None:
        """Insert an execution and its steps."""
        await self.inner.create_execution(execution, steps)

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        """Append (commit) a batch of events."""
        return await self.inner.append(events)

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution, or `NotFoundError`."""
        return await self.inner.get_execution(execution_id)

    async def list_executions(
        self,
        *,
        limit: int = 20,
        status: ExecutionStatus | None = None,
        workspace_id: str | None = None,
        before: str | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first (see `ExecutionStore.list_executions`)."""
        return await self.inner.list_executions(
            limit=limit, status=status, workspace_id=workspace_id, before=before
        )

    async def get_steps(self, execution_id: str) -> list[StepRecord]:
        """Steps in plan order."""
        return await self.inner.get_steps(execution_id)

    async def events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events with ``seq > after``, oldest first."""
        return await self.inner.events(execution_id, after=after, limit=limit)

    async def agent_history(self) -> dict[str, AgentHistory]:
        """Per agent: steps that succeeded and failed, and the mean successful duration."""
        return await self.inner.agent_history()

    async def acquire_lease(
        self, execution_id: str, owner: str, ttl_s: float, *, take_from: str | None = None
    ) -> bool:
        """Take the execution's lease."""
        return await self.inner.acquire_lease(execution_id, owner, ttl_s, take_from=take_from)

    async def renew_lease(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        """Extend `owner`'s lease."""
        return await self.inner.renew_lease(execution_id, owner, ttl_s)

    async def release_lease(self, execution_id: str, owner: str) -> None:
        """Give the lease up."""
        await self.inner.release_lease(execution_id, owner)

    async def orphaned_executions(self) -> list[ExecutionRecord]:
        """Executions to take up, oldest first."""
        return await self.inner.orphaned_executions()

    async def compact(self, execution_id: str) -> Checkpoint:
        """Fold a finished execution's log into a checkpoint."""
        return await self.inner.compact(execution_id)

    async def checkpoint(self, execution_id: str) -> Checkpoint | None:
        """The execution's checkpoint, if its log was compacted."""
        return await self.inner.checkpoint(execution_id)

    async def request_cancel(self, execution_id: str) -> ExecutionRecord:
        """Flag an execution for cancellation."""
        return await self.inner.request_cancel(execution_id)

    async def close(self) -> None:
        """Release the inner store's connections."""
        await self.inner.close()
