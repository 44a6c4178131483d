"""The execution store on SQLAlchemy 2: SQLite by default, PostgreSQL by URL.

Each public method is one transaction of plain SQLAlchemy Core statements, run by a
`Database` (see `baton.store.sql.database` for why SQLite runs on a worker thread).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    Row,
    Update,
    and_,
    bindparam,
    case,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from baton.errors import NotFoundError, StoreError
from baton.events import EVENT_ADAPTER, ExecutionStatus, PlanRevised, RunEvent, StepStatus, utcnow
from baton.store.compaction import check_compactable, snapshot
from baton.store.records import (
    AgentHistory,
    Checkpoint,
    ExecutionRecord,
    StepRecord,
    StoredEvent,
)
from baton.store.sql.database import Database
from baton.store.sql.tables import (
    execution_checkpoints,
    execution_events,
    execution_steps,
    executions,
)
from baton.store.transitions import merge_updates, revised_steps, split_at_revisions


class SqlExecutionStore:
    """`ExecutionStore` over a `Database`. Each `append` is one transaction."""

    def __init__(self, db: Database) -> None:
        self._db = db
        # Last event position per execution, as committed by this process. Only the lease
        # holder appends to an execution, so the cache stays right; the primary key on
        # (execution_id, seq) turns any mistake into an error instead of a fork in the log.
        self._last_seq: dict[str, int] = {}

    @property
    def append_never_suspends(self) -> bool:
        """`append` waits for the database."""
        return False

    @property
    def database(self) -> Database:
        """The database (shared with the app's other SQL stores)."""
        return self._db

    async def create_execution(
        self, execution: ExecutionRecord, steps: Sequence[StepRecord]
    ) -> None:
        """Insert an execution and its steps in one transaction."""

        def work(conn: Connection) -> None:
            conn.execute(insert(executions), [_execution_row(execution)])
            if steps:
                conn.execute(insert(execution_steps), [_step_row(s) for s in steps])

        try:
            await self._db.transaction(work)
        except SQLAlchemyError as exc:
            raise StoreError(f"could not save execution {execution.id}: {exc}") from exc

    async def append(self, events: Sequence[RunEvent]) -> list[StoredEvent]:
        """Insert events and apply their transitions, committed together."""
        batch = list(events)
        if not batch:
            return []
        # Nearly always one segment; a plan revision changes which step rows exist, so the
        # updates before it are written first and those after it, after.
        segments = [
            (*merge_updates(events), revision) for events, revision in split_at_revisions(batch)
        ]
        involved = {e.execution_id for e in batch}
        rows: list[dict[str, Any]] = [
            {
                "execution_id": e.execution_id,
                "step_id": getattr(e, "step_id", None),
                "kind": e.kind,
                "at": e.at,
                "data": EVENT_ADAPTER.dump_json(e).decode(),
            }
            for e in batch
        ]

        def work(conn: Connection) -> dict[str, int]:
            last = {ex: self._last_seq.get(ex) or _max_seq(conn, ex) for ex in involved}
            for r in rows:
                last[r["execution_id"]] = r["seq"] = last[r["execution_id"]] + 1
            conn.execute(_INSERT_EVENTS, rows)
            for step_updates, exec_updates, revision in segments:
                _update_steps(conn, step_updates)
                for ex_id, cols in exec_updates.items():
                    conn.execute(update(executions).where(executions.c.id == ex_id).values(**cols))
                if revision is not None:
                    _revise_steps(conn, revision)
            return last

        try:
            committed = await self._db.transaction(work)
        except BaseException as exc:
            # Whether it committed is unknown (a cancelled caller's transaction may still
            # finish): the next batch reads the last sequence numbers from the log again.
            for ex in involved:
                self._last_seq.pop(ex, None)
            if isinstance(exc, SQLAlchemyError):
                raise StoreError(f"could not record {len(batch)} event(s): {exc}") from exc
            raise
        self._last_seq.update(committed)
        return [StoredEvent(seq=r["seq"], event=e) for r, e in zip(rows, batch, strict=True)]

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution, or `NotFoundError`."""

        def work(conn: Connection) -> Row[Any] | None:
            return conn.execute(select(executions).where(executions.c.id == execution_id)).first()

        row = await self._db.transaction(work)
        if row is None:
            raise _not_found(execution_id)
        return _execution_record(row)

    async def list_executions(
        self,
        *,
        limit: int = 20,
        status: ExecutionStatus | None = None,
        workspace_id: str | None = None,
        before: str | None = None,
    ) -> list[ExecutionRecord]:
        """Newest first, filtered (see `ExecutionStore.list_executions`)."""
        ex = executions.c
        query = select(executions).order_by(ex.created_at.desc(), ex.id.desc())
        if status is not None:
            query = query.where(ex.status == status.value)
        if workspace_id is not None:
            query = query.where(ex.workspace_id == workspace_id)
        if before is not None:
            cursor = select(ex.created_at).where(ex.id == before).scalar_subquery()
            query = query.where(
                or_(ex.created_at < cursor, and_(ex.created_at == cursor, ex.id < before))
            )
        query = query.limit(limit)
        rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_execution_record(r) for r in rows]

    async def get_steps(self, execution_id: str) -> list[StepRecord]:
        """Steps in plan order."""

        def work(conn: Connection) -> Sequence[Any] | None:
            if not _exists(conn, execution_id):
                return None
            query = (
                select(execution_steps)
                .where(execution_steps.c.execution_id == execution_id)
                .order_by(execution_steps.c.position)
            )
            return conn.execute(query).all()

        rows = await self._db.transaction(work)
        if rows is None:
            raise _not_found(execution_id)
        return [_step_record(r) for r in rows]

    async def events(
        self, execution_id: str, *, after: int = 0, limit: int | None = None
    ) -> list[StoredEvent]:
        """Events with ``seq > after``, oldest first."""
        query = (
            select(execution_events.c.seq, execution_events.c.data)
            .where(execution_events.c.execution_id == execution_id)
            .where(execution_events.c.seq > after)
            .order_by(execution_events.c.seq)
        )
        if limit is not None:
            query = query.limit(limit)

        def work(conn: Connection) -> Sequence[Any] | None:
            if not _exists(conn, execution_id):
                return None
            return conn.execute(query).all()

        rows = await self._db.transaction(work)
        if rows is None:
            raise _not_found(execution_id)
        return [StoredEvent(seq=r.seq, event=EVENT_ADAPTER.validate_json(r.data)) for r in rows]

    async def agent_history(self) -> dict[str, AgentHistory]:
        """Per agent: steps that succeeded and failed, and the mean successful duration."""
        c = execution_steps.c
        ok = c.status == StepStatus.SUCCEEDED.value
        query = (
            select(
                c.agent,
                func.sum(case((ok, 1), else_=0)),
                func.sum(case((c.status == StepStatus.FAILED.value, 1), else_=0)),
                func.avg(case((ok, func.coalesce(c.duration_s, 0.0)), else_=None)),
            )
            .where(c.status.in_([StepStatus.SUCCEEDED.value, StepStatus.FAILED.value]))
            .group_by(c.agent)
        )
        rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return {
            r[0]: AgentHistory(
                succeeded=int(r[1]),
                failed=int(r[2]),
                mean_duration_s=None if r[3] is None else float(r[3]),
            )
            for r in rows
        }

    async def acquire_lease(
        self, execution_id: str, owner: str, ttl_s: float, *, take_from: str | None = None
    ) -> bool:
        """Take the lease if free, expired, ours or `take_from`'s (one conditional UPDATE)."""
        now = utcnow()
        c = executions.c
        stmt = (
            update(executions)
            .where(c.id == execution_id)
            .where(
                or_(
                    c.lease_owner.is_(None),
                    c.lease_owner == owner,
                    c.lease_owner == (take_from or owner),
                    c.lease_expires_at.is_(None),
                    c.lease_expires_at <= now,
                )
            )
            .values(lease_owner=owner, lease_expires_at=now + timedelta(seconds=ttl_s))
        )

        def work(conn: Connection) -> bool:
            if conn.execute(stmt).rowcount == 1:
                return True
            if not _exists(conn, execution_id):
                raise _not_found(execution_id)
            return False

        return await self._db.transaction(work)

    async def renew_lease(self, execution_id: str, owner: str, ttl_s: float) -> bool:
        """Extend our lease; False if another owner has it now."""
        c = executions.c
        stmt = (
            update(executions)
            .where(c.id == execution_id, c.lease_owner == owner)
            .values(lease_expires_at=utcnow() + timedelta(seconds=ttl_s))
        )
        return await self._db.transaction(lambda conn: conn.execute(stmt).rowcount == 1)

    async def release_lease(self, execution_id: str, owner: str) -> None:
        """Give the lease up."""
        c = executions.c
        stmt = (
            update(executions)
            .where(c.id == execution_id, c.lease_owner == owner)
            .values(lease_owner=None, lease_expires_at=None)
        )
        await self._db.transaction(lambda conn: conn.execute(stmt))
        self._last_seq.pop(execution_id, None)

    async def orphaned_executions(self) -> list[ExecutionRecord]:
        """Running executions whose lease is free or expired, oldest first."""
        c = executions.c
        query = (
            select(executions)
            .where(
                or_(
                    c.status.in_([ExecutionStatus.RUNNING.value, ExecutionStatus.PENDING.value]),
                    # Waiting, but every doubt has been decided: ready to go on.
                    and_(
                        c.status == ExecutionStatus.WAITING.value,
                        ~exists().where(
                            execution_steps.c.execution_id == c.id,
                            execution_steps.c.status.in_(
                                [StepStatus.IN_DOUBT.value, StepStatus.AWAITING_APPROVAL.value]
                            ),
                        ),
                    ),
                )
            )
            .where(or_(c.lease_expires_at.is_(None), c.lease_expires_at <= utcnow()))
            .order_by(c.created_at, c.id)
        )
        rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_execution_record(r) for r in rows]

    async def compact(self, execution_id: str) -> Checkpoint:
        """Fold the log of a finished execution into a checkpoint, in one transaction."""

        def work(conn: Connection) -> Checkpoint:
            existing = _load_checkpoint(conn, execution_id)
            if existing is not None:
                return existing
            row = conn.execute(select(executions).where(executions.c.id == execution_id)).first()
            if row is None:
                raise _not_found(execution_id)
            execution = _execution_record(row)
            check_compactable(execution)
            steps = [
                _step_record(r)
                for r in conn.execute(
                    select(execution_steps)
                    .where(execution_steps.c.execution_id == execution_id)
                    .order_by(execution_steps.c.position)
                )
            ]
            events = [
                StoredEvent(seq=r.seq, event=EVENT_ADAPTER.validate_json(r.data))
                for r in conn.execute(
                    select(execution_events.c.seq, execution_events.c.data)
                    .where(execution_events.c.execution_id == execution_id)
                    .order_by(execution_events.c.seq)
                )
            ]
            checkpoint = Checkpoint(
                execution_id=execution_id,
                created_at=utcnow(),
                event_count=len(events),
                last_seq=events[-1].seq if events else 0,
                snapshot=snapshot(execution, steps, events),
            )
            conn.execute(
                insert(execution_checkpoints).values(
                    execution_id=execution_id,
                    created_at=checkpoint.created_at,
                    event_count=checkpoint.event_count,
                    last_seq=checkpoint.last_seq,
                    snapshot=checkpoint.snapshot,
                )
            )
            conn.execute(
                delete(execution_events).where(execution_events.c.execution_id == execution_id)
            )
            return checkpoint

        return await self._db.transaction(work)

    async def checkpoint(self, execution_id: str) -> Checkpoint | None:
        """The checkpoint, if compacted."""

        def work(conn: Connection) -> Checkpoint | None:
            if not _exists(conn, execution_id):
                raise _not_found(execution_id)
            return _load_checkpoint(conn, execution_id)

        return await self._db.transaction(work)

    async def request_cancel(self, execution_id: str) -> ExecutionRecord:
        """Flag for cancellation."""

        def work(conn: Connection) -> Row[Any] | None:
            conn.execute(
                update(executions)
                .where(executions.c.id == execution_id)
                .values(cancel_requested=True)
            )
            return conn.execute(select(executions).where(executions.c.id == execution_id)).first()

        row = await self._db.transaction(work)
        if row is None:
            raise _not_found(execution_id)
        return _execution_record(row)

    async def close(self) -> None:
        """Close the database's connections."""
        await self._db.dispose()


def _not_found(execution_id: str) -> NotFoundError:
    return NotFoundError(
        f"execution {execution_id!r} not found",
        hint="`baton executions list` shows recent executions",
    )


def _max_seq(conn: Connection, execution_id: str) -> int:
    c = execution_events.c
    query = select(func.coalesce(func.max(c.seq), 0)).where(c.execution_id == execution_id)
    last = int(conn.execute(query).scalar_one())
    if last == 0:  # a compacted log goes on after its checkpoint
        cp = execution_checkpoints.c
        found = conn.execute(select(cp.last_seq).where(cp.execution_id == execution_id)).first()
        last = int(found[0]) if found else 0
    return last


def _load_checkpoint(conn: Connection, execution_id: str) -> Checkpoint | None:
    cp = execution_checkpoints.c
    row = conn.execute(select(execution_checkpoints).where(cp.execution_id == execution_id)).first()
    if row is None:
        return None
    return Checkpoint(
        execution_id=row.execution_id,
        created_at=row.created_at,
        event_count=row.event_count,
        last_seq=row.last_seq,
        snapshot=row.snapshot,
    )


def _exists(conn: Connection, execution_id: str) -> bool:
    query = select(executions.c.id).where(executions.c.id == execution_id)
    return conn.execute(query).first() is not None


_INSERT_EVENTS = insert(execution_events)


@functools.cache
def _step_update_statement(columns: tuple[str, ...]) -> Update:
    # Built once per column set (a handful exist): building statements costs more than
    # running them on SQLite.
    return (
        update(execution_steps)
        .where(execution_steps.c.execution_id == bindparam("b_ex"))
        .where(execution_steps.c.step_id == bindparam("b_step"))
        .values({c: bindparam(c) for c in columns})
    )


def _update_steps(conn: Connection, updates: dict[str, dict[str, Any]]) -> None:
    """Write per-step updates as executemany batches, one per distinct set of columns."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for key, cols in updates.items():
        ex_id, step_id = key.split("\x00", 1)
        groups.setdefault(tuple(sorted(cols)), []).append(
            {"b_ex": ex_id, "b_step": step_id, **cols}
        )
    for columns, params in groups.items():
        conn.execute(_step_update_statement(columns), params)


def _revise_steps(conn: Connection, event: PlanRevised) -> None:
    """Apply a plan revision to the step rows: drop, re-create fresh, and reorder."""
    change = revised_steps(event)
    c = execution_steps.c
    if change.dropped:
        conn.execute(
            delete(execution_steps).where(
                c.execution_id == event.execution_id, c.step_id.in_(sorted(change.dropped))
            )
        )
    if change.fresh:
        conn.execute(insert(execution_steps), [_step_row(s) for s in change.fresh])
    moves = [
        {"b_ex": event.execution_id, "b_step": sid, "position": position}
        for sid, position in change.positions.items()
    ]
    if moves:
        conn.execute(_step_update_statement(("position",)), moves)


def _execution_row(e: ExecutionRecord) -> dict[str, Any]:
    return {
        "id": e.id,
        "workspace_id": e.workspace_id,
        "name": e.name,
        "request": e.request,
        "plan": e.plan,
        "status": e.status.value,
        "created_at": e.created_at,
        "started_at": e.started_at,
        "finished_at": e.finished_at,
        "error": e.error,
        "cancel_requested": e.cancel_requested,
        "lease_owner": e.lease_owner,
        "lease_expires_at": e.lease_expires_at,
    }


def _step_row(s: StepRecord) -> dict[str, Any]:
    return {
        "execution_id": s.execution_id,
        "step_id": s.step_id,
        "agent": s.agent,
        "position": s.position,
        "status": s.status.value,
        "attempts": s.attempts,
        "started_at": s.started_at,
        "finished_at": s.finished_at,
        "duration_s": s.duration_s,
        "output": s.output,
        "error": s.error,
    }


def _execution_record(r: Row[Any]) -> ExecutionRecord:
    return ExecutionRecord(
        id=r.id,
        workspace_id=r.workspace_id,
        name=r.name,
        request=r.request,
        plan=r.plan,
        status=ExecutionStatus(r.status),
        created_at=r.created_at,
        started_at=r.started_at,
        finished_at=r.finished_at,
        error=r.error,
        cancel_requested=bool(r.cancel_requested),
        lease_owner=r.lease_owner,
        lease_expires_at=r.lease_expires_at,
    )


def _step_record(r: Row[Any]) -> StepRecord:
    return StepRecord(
        execution_id=r.execution_id,
        step_id=r.step_id,
        agent=r.agent,
        position=r.position,
        status=StepStatus(r.status),
        attempts=r.attempts,
        started_at=r.started_at,
        finished_at=r.finished_at,
        duration_s=r.duration_s,
        output=r.output,
        error=r.error,
    )
