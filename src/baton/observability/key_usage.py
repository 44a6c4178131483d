"""Token usage and cache hit rate of a window, aggregated in SQL (a `UsageSource`).

Both figures are over the same population as the other key metrics: the executions *created*
in ``[since, until)``, optionally of one workspace (`baton.observability.key_metrics`). Every
query starts from ``ix_executions_workspace_created`` and reaches the other tables by their
execution-id keys, so no new index is needed and the cost grows with the window's executions,
not with the tables.

**Token usage** of those executions: their steps' model calls (``model_calls`` rows with a
step; calls outside a step are planning, already in the plan) plus what planning them cost,
every replan included, which the plan's provenance keeps (``plan -> provenance`` read by JSON
path, on SQLite and PostgreSQL alike). A call made today by an execution created before the
window counts in that execution's window, as its steps and duration do.

**Cache hit rate**: see `CACHE_DEFINITION`; the events' ``cached`` flag is read from their
JSON text, and a compacted execution's from its checkpoint (compaction keeps cache hits).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import JSONB

from baton.events import StepStatus
from baton.observability.key_metrics import CacheUsage, TokenUsage
from baton.store.sql.database import Database
from baton.store.sql.model_calls import model_calls
from baton.store.sql.tables import (
    execution_checkpoints,
    execution_events,
    execution_steps,
    executions,
)

__all__ = ["CACHE_DEFINITION", "SqlUsage", "cache_hit_in_snapshot"]

CACHE_DEFINITION = """\
A *lookup* is a step of the window's executions that succeeded, whose agent is cacheable
(the registry's set, passed in) and whose plan did not turn its ``policy.cache`` off; a *hit*
is such a step whose success came from the smart cache (its ``StepSucceeded`` event has
``cached`` set). Misses are the other lookups. Not counted: failed, cancelled or skipped steps
and steps still running (a lookup that missed and then failed is not seen), retries (one
step is one lookup however many attempts it took), steps of agents no longer registered as
cacheable. Counted as misses although no lookup was made: successes while the cache was
turned off (``BATON_CACHE_ENABLED=false``) and steps whose inputs could not be keyed."""

_HIT_TEXT = '%"cached":true%'
"""How a cache hit's event reads in its JSON text (compact, as the event adapter writes it):
a cheap filter before the exact JSON test, which an output holding that text would pass."""


class SqlUsage:
    """`UsageSource` over baton's SQL database (see the module docstring)."""

    def __init__(self, db: Database, cacheable: Iterable[str]) -> None:
        """Read usage from `db`.

        Args:
            db: The database baton keeps its executions and model calls in.
            cacheable: Names of the agents whose results may be cached (the registry's).
        """
        self._db = db
        self._cacheable = sorted(set(cacheable))

    async def token_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> TokenUsage:
        """Tokens and cost of the window's executions: their steps' calls and planning."""
        calls_query = (
            sa.select(
                sa.func.count(),
                sa.func.sum(model_calls.c.input_tokens),
                sa.func.sum(model_calls.c.output_tokens),
                sa.func.sum(model_calls.c.cost_usd),
                sa.func.sum(sa.case((model_calls.c.cost_usd.is_(None), 1), else_=0)),
            )
            .select_from(
                executions.join(model_calls, model_calls.c.execution_id == executions.c.id)
            )
            .where(*_in_window(since, until, workspace_id), model_calls.c.step_id.is_not(None))
        )
        plan = executions.c.plan
        planning_query = sa.select(
            sa.func.sum(plan[("provenance", "calls")].as_integer()),
            sa.func.sum(plan[("provenance", "input_tokens")].as_integer()),
            sa.func.sum(plan[("provenance", "output_tokens")].as_integer()),
            sa.func.sum(plan[("provenance", "cost_usd")].as_float()),
        ).where(*_in_window(since, until, workspace_id))

        def work(conn: Connection) -> TokenUsage:
            calls, inp, out, cost, unpriced = conn.execute(calls_query).one()
            p_calls, p_in, p_out, p_cost = conn.execute(planning_query).one()
            return TokenUsage(
                input_tokens=int(inp or 0) + int(p_in or 0),
                output_tokens=int(out or 0) + int(p_out or 0),
                cost_usd=float(cost or 0.0) + float(p_cost or 0.0),
                calls=int(calls or 0) + int(p_calls or 0),
                unpriced_calls=int(unpriced or 0),
            )

        return await self._db.transaction(work)

    async def cache_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> CacheUsage:
        """Lookups and hits of the window's executions (see `CACHE_DEFINITION`)."""
        if not self._cacheable:
            return CacheUsage(hits=0, misses=0)
        steps = execution_steps
        eligible = [
            *_in_window(since, until, workspace_id),
            steps.c.status == StepStatus.SUCCEEDED.value,
            steps.c.agent.in_(self._cacheable),
            ~_opted_out(self._db.dialect),
        ]
        joined = executions.join(steps, steps.c.execution_id == executions.c.id)
        lookups_query = sa.select(sa.func.count()).select_from(joined).where(*eligible)
        # From each execution's events (one pass over its log, by its key) to the step's row
        # (by its key): linear in the window's events, however many steps an execution has.
        ev = execution_events.c
        hit_steps = (
            sa.select(steps.c.execution_id, steps.c.step_id)
            .distinct()
            .select_from(
                joined.join(
                    execution_events,
                    sa.and_(ev.execution_id == steps.c.execution_id, ev.step_id == steps.c.step_id),
                )
            )
            .where(
                *eligible,
                ev.kind == "step_succeeded",
                ev.data.like(_HIT_TEXT),
                _cached_flag(self._db.dialect, ev.data),
            )
            .subquery()
        )
        hits_query = sa.select(sa.func.count()).select_from(hit_steps)
        # A compacted execution's events are gone; its checkpoint keeps the cache hits.
        compacted = (
            sa.select(steps.c.step_id, execution_checkpoints.c.snapshot)
            .select_from(
                joined.join(
                    execution_checkpoints,
                    execution_checkpoints.c.execution_id == executions.c.id,
                )
            )
            .where(*eligible)
        )

        def work(conn: Connection) -> CacheUsage:
            lookups = int(conn.execute(lookups_query).scalar_one())
            found = int(conn.execute(hits_query).scalar_one())
            for step_id, snapshot in conn.execute(compacted):
                found += cache_hit_in_snapshot(snapshot, step_id)
            return CacheUsage(hits=found, misses=lookups - found)

        return await self._db.transaction(work)


def cache_hit_in_snapshot(snapshot: Any, step_id: str) -> bool:
    """Whether a compacted log's snapshot records a cache hit of `step_id`."""
    recovery: Any = snapshot.get("recovery") if isinstance(snapshot, dict) else None
    for item in recovery if isinstance(recovery, list) else []:
        event: Any = item.get("event") if isinstance(item, dict) else None
        if (
            isinstance(event, dict)
            and event.get("kind") == "step_succeeded"
            and event.get("step_id") == step_id
            and event.get("cached") is True
        ):
            return True
    return False


def _in_window(
    since: datetime, until: datetime, workspace_id: str | None
) -> list[sa.ColumnElement[bool]]:
    where = [executions.c.created_at >= since, executions.c.created_at < until]
    if workspace_id is not None:
        where.append(executions.c.workspace_id == workspace_id)
    return where


def _cached_flag(dialect: str, data: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
    """The event's own ``cached`` field is true (not some text in its output)."""
    if dialect == "sqlite":  # json_extract reads JSON true as 1
        return sa.func.json_extract(data, "$.cached") == 1
    return sa.cast(data, JSONB)["cached"].astext == "true"


def _opted_out(dialect: str) -> sa.ColumnElement[bool]:
    """The step's entry in its execution's plan turns ``policy.cache`` off."""
    step_id = execution_steps.c.step_id
    if dialect == "sqlite":
        elements = sa.func.json_each(executions.c.plan, "$.steps").table_valued("value")
        value = elements.c.value
        return (
            sa.exists()
            .select_from(elements)
            .where(
                sa.func.json_extract(value, "$.id") == step_id,
                sa.func.json_extract(value, "$.policy.cache") == 0,
            )
        )
    elements = sa.func.jsonb_array_elements(executions.c.plan["steps"]).table_valued(
        sa.column("value", JSONB)
    )
    value = elements.c.value
    return (
        sa.exists()
        .select_from(elements)
        .where(
            value.op("->>")("id") == step_id,
            value.op("#>>")(sa.literal_column("'{policy,cache}'")) == "false",
        )
    )
