"""An `ExecutionStore` that publishes what it commits to an `EventBus`.

It wraps the real store: every method is delegated, and `append`, once the inner append has
returned (the events are committed and numbered), hands the stored events to the bus. The
publish is synchronous and never waits on a subscriber (see `baton.streaming.bus`), so a slow
reader cannot slow the executor, and nothing about publishing can fail the append.

The workspace of each execution is remembered from `create_execution` (for the workspace
streams). An execution this process did not create (one resumed after a restart) has its
workspace read once, when its first execution-level event is published; the entry is
forgotten when the execution finishes, so the map holds only live executions.

It also remembers the records of executions that *succeeded* (up to `SUCCEEDED_CACHE_SIZE`,
least recently read first out): nothing changes such a record any more (it cannot be
resumed or cancelled, and compaction leaves rows alone), and they are what dashboards and
clients read most, so a read of one costs no database round trip.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Sequence

from baton.events import ExecutionStatus, RunEvent
from baton.store.delegating import DelegatingExecutionStore
from baton.store.protocol import ExecutionStore
from baton.store.records import (
    ExecutionRecord,
    StepRecord,
    StoredEvent,
)
from baton.streaming.bus import LIFECYCLE_KINDS, EventBus

__all__ = ["PublishingStore"]

log = logging.getLogger("baton.streaming")

SUCCEEDED_CACHE_SIZE = 4096
"""Records of succeeded executions kept in memory for reads."""


class PublishingStore(DelegatingExecutionStore):
    """`ExecutionStore` over `inner` that publishes committed events to `bus`."""

    def __init__(self, inner: ExecutionStore, bus: EventBus) -> None:
        """Delegate to `inner`; publish its appended events to `bus`."""
        super().__init__(inner)
        self.bus = bus
        """Where committed events go."""
        self._workspaces: dict[str, str] = {}
        self._succeeded: OrderedDict[str, ExecutionRecord] = OrderedDict()

    async def create_execution(
        self, execution: ExecutionRecord, steps: Sequence[StepRecord]
    ) -> None:
        """Insert the execution, and remember its workspace for the workspace streams."""
        await self.inner.create_execution(execution, steps)
        self._workspaces[execution.id] = execution.workspace_id

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        """Append (commit) through the inner store, then publish what it stored."""
        stored = await self.inner.append(events)
        if not stored:
            return stored
        by_execution: dict[str, list[StoredEvent]] = {}
        for s in stored:
            by_execution.setdefault(s.event.execution_id, []).append(s)
        for execution_id, batch in by_execution.items():
            workspace_id = self._workspaces.get(execution_id)
            lifecycle = [s.event.kind for s in batch if s.event.kind in LIFECYCLE_KINDS]
            if workspace_id is None and lifecycle:
                workspace_id = await self._workspace_of(execution_id)
            self.bus.publish(workspace_id, batch)
            if "execution_finished" in lifecycle:
                self._workspaces.pop(execution_id, None)
        return stored

    async def _workspace_of(self, execution_id: str) -> str | None:
        # Best effort: the events are committed already, and subscribers of the execution
        # get them whatever happens here; only workspace streams would miss them.
        try:
            record = await self.inner.get_execution(execution_id)
        except Exception:
            log.warning("cannot find the workspace of %s to publish to", execution_id)
            return None
        self._workspaces[execution_id] = record.workspace_id
        return record.workspace_id

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution, or `NotFoundError` (a succeeded one from memory once read)."""
        cached = self._succeeded.get(execution_id)
        if cached is not None:
            self._succeeded.move_to_end(execution_id)
            return cached
        record = await self.inner.get_execution(execution_id)
        if record.status is ExecutionStatus.SUCCEEDED:
            self._succeeded[execution_id] = record
            if len(self._succeeded) > SUCCEEDED_CACHE_SIZE:
                self._succeeded.popitem(last=False)
        return record
