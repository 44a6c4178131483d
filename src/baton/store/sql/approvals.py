"""`ApprovalStore` on SQLAlchemy: one ``pending_approvals`` row per approval request.

Every change is a single conditional ``UPDATE`` in its own transaction, so two racers never
both win: `decide` matches only ``status = 'pending'``, `mark_used` only ``status =
'approved'`` with the same binding (plan hash, step, inputs hash) and ``expires_at > now``.
Time comes from the caller's clock, as in `baton.store.sql.locks`.
"""

from __future__ import annotations

import builtins
from collections.abc import Generator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Column, Connection, Index, Row, String, Table, Text, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

from baton.errors import StoreError, UsageError
from baton.store.approvals import (
    Approval,
    ApprovalStatus,
    Clock,
    Impact,
    check_decision,
    check_new,
    not_found,
    utcnow,
)
from baton.store.sql.database import Database
from baton.store.sql.tables import Json, UtcDateTime, metadata

__all__ = ["SqlApprovalStore", "pending_approvals"]

pending_approvals = Table(
    "pending_approvals",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(64), nullable=False),
    Column("execution_id", String(40), nullable=False),
    Column("step_id", String(200), nullable=False),
    Column("agent", String(200), nullable=False),
    Column("plan_hash", String(64), nullable=False),
    Column("inputs_hash", String(64), nullable=False),
    Column("inputs", Json, nullable=False),
    Column("impact", Json, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("decided_at", UtcDateTime),
    Column("decided_by", String(200)),
    Column("decision_reason", Text),
    Column("edited_inputs", Json),
    Index("ix_pending_approvals_execution_id", "execution_id"),
    Index("ix_pending_approvals_status", "status"),
)

_a = pending_approvals.c


@contextmanager
def _store_errors(action: str) -> Generator[None]:
    try:
        yield
    except IntegrityError as exc:
        raise UsageError(f"the approval store refused to {action}: {exc.orig}") from exc
    except DBAPIError as exc:
        raise StoreError(
            f"the approval store failed to {action}: {exc.orig}",
            retryable=isinstance(exc, OperationalError) or exc.connection_invalidated,
        ) from exc


def _record(row: Row[Any]) -> Approval:
    return Approval(
        id=row.id,
        workspace_id=row.workspace_id,
        execution_id=row.execution_id,
        step_id=row.step_id,
        agent=row.agent,
        plan_hash=row.plan_hash,
        inputs_hash=row.inputs_hash,
        inputs=row.inputs,
        impact=cast("Impact", row.impact),
        reason=row.reason,
        status=ApprovalStatus(row.status),
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        edited_inputs=row.edited_inputs,
    )


def _values(approval: Approval) -> dict[str, Any]:
    return {
        "id": approval.id,
        "workspace_id": approval.workspace_id,
        "execution_id": approval.execution_id,
        "step_id": approval.step_id,
        "agent": approval.agent,
        "plan_hash": approval.plan_hash,
        "inputs_hash": approval.inputs_hash,
        "inputs": approval.inputs,
        "impact": dict(approval.impact),
        "reason": approval.reason,
        "status": approval.status.value,
        "created_at": approval.created_at,
        "expires_at": approval.expires_at,
        "decided_at": approval.decided_at,
        "decided_by": approval.decided_by,
        "decision_reason": approval.decision_reason,
        "edited_inputs": approval.edited_inputs,
    }


class SqlApprovalStore:
    """An `ApprovalStore` in the ``pending_approvals`` table, shared by every process."""

    def __init__(self, db: Database, *, clock: Clock = utcnow) -> None:
        """Use `db`, reading the time from `clock` (inject a fake one to test expiry)."""
        self._db = db
        self._clock = clock

    async def create(self, approval: Approval) -> Approval:
        """Store a new pending request."""
        check_new(approval)
        stmt = insert(pending_approvals).values(_values(approval))
        with _store_errors("create an approval"):
            await self._db.transaction(lambda conn: conn.execute(stmt))
        return approval

    async def get(self, approval_id: str) -> Approval:
        """The request with that id (`NotFoundError` if none)."""
        query = select(pending_approvals).where(_a.id == approval_id)
        with _store_errors("read an approval"):
            row = await self._db.transaction(lambda conn: conn.execute(query).first())
        if row is None:
            raise not_found(approval_id)
        return _record(row)

    async def list(
        self,
        status: ApprovalStatus | None = None,
        execution_id: str | None = None,
        workspace_id: str | None = None,
    ) -> builtins.list[Approval]:
        """Requests, oldest first, filtered by status, execution and workspace."""
        query = select(pending_approvals).order_by(_a.created_at, _a.id)
        if workspace_id is not None:
            query = query.where(_a.workspace_id == workspace_id)
        if status is not None:
            query = query.where(_a.status == status.value)
        if execution_id is not None:
            query = query.where(_a.execution_id == execution_id)
        with _store_errors("list approvals"):
            rows = await self._db.transaction(lambda conn: conn.execute(query).all())
        return [_record(row) for row in rows]

    async def decide(
        self,
        approval_id: str,
        status: ApprovalStatus,
        *,
        by: str,
        reason: str | None = None,
        edited_inputs: dict[str, Any] | None = None,
        inputs_hash: str | None = None,
        expires_at: datetime | None = None,
    ) -> Approval | None:
        """Record a decision if still pending; None otherwise."""
        check_decision(status)
        values: dict[str, Any] = {
            "status": status.value,
            "decided_at": self._clock(),
            "decided_by": by,
            "decision_reason": reason,
            "edited_inputs": edited_inputs,
        }
        if inputs_hash is not None:
            values["inputs_hash"] = inputs_hash
        if expires_at is not None:
            values["expires_at"] = expires_at
        stmt = (
            update(pending_approvals)
            .where(_a.id == approval_id, _a.status == ApprovalStatus.PENDING.value)
            .values(values)
        )

        def work(conn: Connection) -> Row[Any] | None:
            if conn.execute(stmt).rowcount == 1:
                return conn.execute(select(pending_approvals).where(_a.id == approval_id)).one()
            exists = conn.execute(select(_a.id).where(_a.id == approval_id)).first()
            if exists is None:
                raise not_found(approval_id)
            return None

        with _store_errors("decide an approval"):
            row = await self._db.transaction(work)
        return None if row is None else _record(row)

    async def mark_used(
        self, approval_id: str, *, plan_hash: str, step_id: str, inputs_hash: str
    ) -> bool:
        """Consume an approved, unexpired, matching approval."""
        stmt = (
            update(pending_approvals)
            .where(
                _a.id == approval_id,
                _a.status == ApprovalStatus.APPROVED.value,
                _a.plan_hash == plan_hash,
                _a.step_id == step_id,
                _a.inputs_hash == inputs_hash,
                _a.expires_at > self._clock(),
            )
            .values(status=ApprovalStatus.USED.value)
        )
        with _store_errors("use an approval"):
            return await self._db.transaction(lambda conn: conn.execute(stmt).rowcount == 1)
