"""`ModelCallStore` on SQLAlchemy: the ``model_calls`` table (migration 0010).

One row per call, filed under its execution; totals are summed by the database. Ids come
from the database, so an execution's calls read back in the order they were added.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Float,
    Index,
    Integer,
    Row,
    String,
    Table,
    insert,
    select,
)

from baton.store.model_calls import ModelCall, UsageTotals, check_calls
from baton.store.sql.database import Database
from baton.store.sql.tables import UtcDateTime, metadata

__all__ = ["SqlModelCallStore", "model_calls"]

model_calls = Table(
    "model_calls",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("execution_id", String(40), nullable=False),
    Column("step_id", String(64)),
    Column("provider", String(32), nullable=False),
    Column("model", String(200), nullable=False),
    Column("purpose", String(16), nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("latency_s", Float, nullable=False),
    Column("cost_usd", Float),
    Column("error", String(200)),
    Column("at", UtcDateTime, nullable=False),
    # An execution's calls in order, and its totals (per step).
    Index("ix_model_calls_execution_id_id", "execution_id", "id"),
    sqlite_autoincrement=True,
)

_c = model_calls.c


def _values(call: ModelCall) -> dict[str, Any]:
    return {
        "execution_id": call.execution_id,
        "step_id": call.step_id,
        "provider": call.provider[:32],
        "model": call.model[:200],
        "purpose": call.purpose,
        "input_tokens": call.input_tokens,
        "output_tokens": call.output_tokens,
        "latency_s": call.latency_s,
        "cost_usd": call.cost_usd,
        "error": call.error[:200] if call.error is not None else None,
        "at": call.at,
    }


def _call(row: Row[Any]) -> ModelCall:
    return ModelCall(
        provider=row.provider,
        model=row.model,
        purpose=row.purpose,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        latency_s=row.latency_s,
        cost_usd=row.cost_usd,
        execution_id=row.execution_id,
        step_id=row.step_id,
        error=row.error,
        at=row.at,
    )


def _totals(row: Any) -> UsageTotals:
    return UsageTotals(
        calls=int(row.calls or 0),
        input_tokens=int(row.input_tokens or 0),
        output_tokens=int(row.output_tokens or 0),
        cost_usd=float(row.cost_usd or 0.0),
        unpriced_calls=int(row.unpriced_calls or 0),
    )


_SUMS = (
    sa.func.count().label("calls"),
    sa.func.sum(_c.input_tokens).label("input_tokens"),
    sa.func.sum(_c.output_tokens).label("output_tokens"),
    sa.func.sum(_c.cost_usd).label("cost_usd"),
    sa.func.sum(sa.case((_c.cost_usd.is_(None), 1), else_=0)).label("unpriced_calls"),
)


class SqlModelCallStore:
    """`ModelCallStore` in the ``model_calls`` table."""

    def __init__(self, db: Database) -> None:
        """Keep calls in `db` (its schema made by `create_schema`)."""
        self._db = db

    async def add(self, call: ModelCall) -> None:
        """See `ModelCallStore.add`."""
        await self.add_many([call])

    async def add_many(self, calls: Sequence[ModelCall]) -> None:
        """See `ModelCallStore.add_many`."""
        check_calls(calls)
        if not calls:
            return
        rows = [_values(c) for c in calls]

        def work(conn: Connection) -> None:
            conn.execute(insert(model_calls), rows)

        await self._db.transaction(work)

    async def for_execution(self, execution_id: str) -> list[ModelCall]:
        """See `ModelCallStore.for_execution`."""
        stmt = select(model_calls).where(_c.execution_id == execution_id).order_by(_c.id)

        def work(conn: Connection) -> list[ModelCall]:
            return [_call(row) for row in conn.execute(stmt)]

        return await self._db.transaction(work)

    async def totals(self, execution_id: str, step_id: str | None = None) -> UsageTotals:
        """See `ModelCallStore.totals`."""
        stmt = select(*_SUMS).where(_c.execution_id == execution_id)
        if step_id is not None:
            stmt = stmt.where(_c.step_id == step_id)

        def work(conn: Connection) -> UsageTotals:
            return _totals(conn.execute(stmt).one())

        return await self._db.transaction(work)

    async def totals_by_step(self, execution_id: str) -> dict[str | None, UsageTotals]:
        """See `ModelCallStore.totals_by_step`."""
        stmt = (
            select(_c.step_id, *_SUMS).where(_c.execution_id == execution_id).group_by(_c.step_id)
        )

        def work(conn: Connection) -> dict[str | None, UsageTotals]:
            return {row.step_id: _totals(row) for row in conn.execute(stmt)}

        return await self._db.transaction(work)
