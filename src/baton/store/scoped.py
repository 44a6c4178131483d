"""One workspace's view of the execution store: the tenancy contract in the repository layer.

Everything the API reads or changes about executions goes through `WorkspaceExecutions`, so
no route can forget the workspace: an execution of another workspace is `NotFoundError`,
word for word the error of one that does not exist (the caller cannot tell them apart).
"""

from __future__ import annotations

from baton.errors import NotFoundError
from baton.events import ExecutionStatus
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord, StepRecord, StoredEvent

__all__ = ["WorkspaceExecutions"]


class WorkspaceExecutions:
    """The executions of one workspace."""

    def __init__(self, store: ExecutionStore, workspace_id: str) -> None:
        """Scope `store` to `workspace_id`."""
        self._store = store
        self.workspace_id = workspace_id

    async def get(self, execution_id: str) -> ExecutionRecord:
        """The execution, or `NotFoundError` (also when it belongs to another workspace)."""
        try:
            record = await self._store.get_execution(execution_id)
        except NotFoundError:
            raise _not_found(execution_id) from None
        if record.workspace_id != self.workspace_id:
            raise _not_found(execution_id)
        return record

    async def list(
        self, *, limit: int = 20, status: ExecutionStatus | None = None, before: str | None = None
    ) -> list[ExecutionRecord]:
        """Newest first; `before` is the last id of the previous page."""
        return await self._store.list_executions(
            limit=limit, status=status, workspace_id=self.workspace_id, before=before
        )

    async def steps(self, execution_id: str) -> list[StepRecord]:
        """Steps in plan order."""
        await self.get(execution_id)
        return await self._store.get_steps(execution_id)

    async def events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events with ``seq > after``, oldest first."""
        await self.get(execution_id)
        return await self._store.events(execution_id, after=after, limit=limit)


def _not_found(execution_id: str) -> NotFoundError:
    return NotFoundError(
        f"execution {execution_id} not found",
        hint="`baton executions list` (GET /api/orchestrate) shows the executions you can see",
    )
