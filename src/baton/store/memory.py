"""In-memory execution store: for tests, the simulator and benchmarks. Not durable."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from baton.errors import NotFoundError
from baton.events import (
    ExecutionStatus,
    PlanRevised,
    RunEvent,
    StepEvent,
    StepStatus,
    utcnow,
)
from baton.store.compaction import check_compactable, snapshot
from baton.store.records import (
    AgentHistory,
    Checkpoint,
    ExecutionRecord,
    StepRecord,
    StoredEvent,
)
from baton.store.transitions import execution_update, revised_steps, step_update


class MemoryExecutionStore:
    """Keeps everything in dicts; same semantics as the SQL store."""

    def __init__(self) -> None:
        self._executions: dict[str, ExecutionRecord] = {}
        # Steps are kept as column dicts and turned into records on read: updating a dict is
        # several times cheaper than dataclasses.replace on the executor's hot path.
        self._steps: dict[str, dict[str, dict[str, Any]]] = {}
        self._events: dict[str, list[tuple[int, RunEvent]]] = {}
        self._checkpoints: dict[str, Checkpoint] = {}

    @property
    def append_never_suspends(self) -> bool:
        """`append` has no await in it."""
        return True

    async def create_execution(
        self, execution: ExecutionRecord, steps: Sequence[StepRecord]
    ) -> None:
        """Insert a new execution with its steps."""
        if execution.id in self._executions:
            raise ValueError(f"execution {execution.id} already exists")
        self._executions[execution.id] = execution
        self._steps[execution.id] = {s.step_id: _columns(s) for s in steps}
        self._events[execution.id] = []

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        """Append events and apply their transitions."""
        self._check(events)
        stored: list[StoredEvent] = []
        for e in events:
            cols = step_update(e)
            if cols is not None:
                self._steps[e.execution_id][e.step_id].update(cols)  # type: ignore[attr-defined]
            else:
                cols = execution_update(e)
                if cols is not None:
                    ex = self._executions[e.execution_id]
                    self._executions[e.execution_id] = dataclasses.replace(ex, **cols)
                if isinstance(e, PlanRevised):
                    self._revise_steps(e)
            log = self._events[e.execution_id]
            log.append((log[-1][0] + 1 if log else 1, e))
            stored.append(StoredEvent(seq=log[-1][0], event=e))
        return stored

    def _check(self, events: Sequence[RunEvent]) -> None:
        """Check a whole batch first so that a bad one changes nothing (as a rollback would).

        Step ids are followed through the batch: a revision adds and removes steps.
        """
        # Step ids a revision earlier in the batch made (True) or unmade (False), per execution.
        revised: dict[str, dict[str, bool]] = {}
        for e in events:
            if e.execution_id not in self._executions:
                raise NotFoundError(f"execution {e.execution_id!r} not found")
            if isinstance(e, PlanRevised):
                made = revised.setdefault(e.execution_id, {})
                made.update(dict.fromkeys(e.removed, False))
                made.update(dict.fromkeys(e.added, True))
            elif isinstance(e, StepEvent):
                sid = e.step_id
                made = revised.get(e.execution_id)
                known = made.get(sid) if made else None
                if known is None:
                    known = sid in self._steps[e.execution_id]
                if not known:
                    raise NotFoundError(f"step {sid!r} not found in {e.execution_id!r}")

    def _revise_steps(self, event: PlanRevised) -> None:
        rows = self._steps[event.execution_id]
        change = revised_steps(event)
        for sid in change.dropped:
            rows.pop(sid, None)
        for record in change.fresh:
            rows[record.step_id] = _columns(record)
        for sid, position in change.positions.items():
            if sid in rows:
                rows[sid]["position"] = position

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution, or `NotFoundError`."""
        try:
            return self._executions[execution_id]
        except KeyError:
            raise NotFoundError(
                f"execution {execution_id!r} not found",
                hint="`baton executions list` shows recent executions",
            ) from None

    async def list_executions(
        self,
        *,
        limit: int = 20,
        status: ExecutionStatus | None = None,
        workspace_id: str | None = None,
        before: str | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first, filtered (see `ExecutionStore.list_executions`)."""
        rows = [
            e
            for e in self._executions.values()
            if (status is None or e.status == status)
            and (workspace_id is None or e.workspace_id == workspace_id)
        ]
        rows.sort(key=lambda e: (e.created_at, e.id), reverse=True)
        if before is not None:
            cursor = self._executions.get(before)
            if cursor is None:
                return []
            rows = [e for e in rows if (e.created_at, e.id) < (cursor.created_at, cursor.id)]
        return rows[:limit]

    async def get_steps(self, execution_id: str) -> list[StepRecord]:
        """Steps in plan order."""
        await self.get_execution(execution_id)
        rows = sorted(self._steps[execution_id].values(), key=lambda s: s["position"])
        return [StepRecord(**r) for r in rows]

    async def events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events with ``seq > after``."""
        await self.get_execution(execution_id)
        out = [StoredEvent(seq=s, event=e) for s, e in self._events[execution_id] if s > after]
        return out if limit is None else out[:limit]

    async def agent_history(self) -> dict[str, AgentHistory]:
        """Per agent: steps that succeeded and failed, and the mean successful duration."""
        durations: dict[str, list[float]] = {}
        failed: dict[str, int] = {}
        for steps in self._steps.values():
            for st in steps.values():
                if st["status"] is StepStatus.SUCCEEDED:
                    durations.setdefault(st["agent"], []).append(st["duration_s"] or 0.0)
                elif st["status"] is StepStatus.FAILED:
                    failed[st["agent"]] = failed.get(st["agent"], 0) + 1
        return {
            a: AgentHistory(
                succeeded=len(durations.get(a, [])),
                failed=failed.get(a, 0),
                mean_duration_s=(sum(durations[a]) / len(durations[a])) if a in durations else None,
            )
            for a in durations.keys() | failed.keys()
        }

    async def acquire_lease(
        self, execution_id: str, owner: str, ttl_s: float, *, take_from: str | None = None
    ) -> bool:
        """Take the lease if free, expired, ours or `take_from`'s."""
        ex = await self.get_execution(execution_id)
        now = utcnow()
        held = ex.lease_owner is not None and ex.lease_owner not in (owner, take_from)
        if held and ex.lease_expires_at is not None and ex.lease_expires_at > now:
            return False
        self._executions[execution_id] = dataclasses.replace(
            ex, lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl_s)
        )
        return True

    async def renew_lease(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        """Extend our lease; False if another owner has it now."""
        ex = await self.get_execution(execution_id)
        if ex.lease_owner != owner:
            return False
        self._executions[execution_id] = dataclasses.replace(
            ex, lease_expires_at=utcnow() + timedelta(seconds=ttl_s)
        )
        return True

    async def release_lease(self, execution_id: str, owner: str) -> None:
        """Give the lease up."""
        ex = await self.get_execution(execution_id)
        if ex.lease_owner == owner:
            self._executions[execution_id] = dataclasses.replace(
                ex, lease_owner=None, lease_expires_at=None
            )

    async def orphaned_executions(self) -> list[ExecutionRecord]:
        """Running executions whose lease is free or expired, oldest first."""
        now = utcnow()
        found = [
            e
            for e in self._executions.values()
            if self._resumable(e) and (e.lease_expires_at is None or e.lease_expires_at <= now)
        ]
        return sorted(found, key=lambda e: (e.created_at, e.id))

    async def compact(self, execution_id: str) -> Checkpoint:
        """Fold the log of a finished execution into a checkpoint."""
        execution = await self.get_execution(execution_id)
        existing = self._checkpoints.get(execution_id)
        if existing is not None:
            return existing
        check_compactable(execution)
        events = await self.events(execution_id)
        checkpoint = Checkpoint(
            execution_id=execution_id,
            created_at=utcnow(),
            event_count=len(events),
            last_seq=events[-1].seq if events else 0,
            snapshot=snapshot(execution, await self.get_steps(execution_id), events),
        )
        self._checkpoints[execution_id] = checkpoint
        self._events[execution_id] = []
        return checkpoint

    async def checkpoint(self, execution_id: str) -> Checkpoint | None:
        """The checkpoint, if compacted."""
        await self.get_execution(execution_id)
        return self._checkpoints.get(execution_id)

    def _resumable(self, execution: ExecutionRecord) -> bool:
        if execution.status in (ExecutionStatus.RUNNING, ExecutionStatus.PENDING):
            return True
        # Waiting, but every doubt has been decided: ready to go on.
        return execution.status is ExecutionStatus.WAITING and not any(
            s["status"] in (StepStatus.IN_DOUBT, StepStatus.AWAITING_APPROVAL)
            for s in self._steps[execution.id].values()
        )

    async def request_cancel(self, execution_id: str) -> ExecutionRecord:
        """Flag for cancellation."""
        ex = await self.get_execution(execution_id)
        ex = dataclasses.replace(ex, cancel_requested=True)
        self._executions[execution_id] = ex
        return ex

    async def close(self) -> None:
        """Nothing to release."""


def _columns(step: StepRecord) -> dict[str, Any]:
    return {f.name: getattr(step, f.name) for f in dataclasses.fields(step)}
