"""Token usage and cache hit rate read by scanning the stores (engines with no SQL database).

The same figures as `baton.observability.key_usage.SqlUsage` (same window, same
definitions: see that module and `CACHE_DEFINITION`), found by reading each execution of the
window, its steps, model calls and events. Linear in the window's executions and their event
logs: fine in memory, never used for a database.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from baton.events import StepStatus, StepSucceeded
from baton.observability.key_metrics import CacheUsage, TokenUsage
from baton.observability.key_metrics_scan import executions_in_window
from baton.observability.key_usage import cache_hit_in_snapshot
from baton.store.model_calls import ModelCallStore, UsageTotals
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord

__all__ = ["ScanUsage"]


class ScanUsage:
    """`UsageSource` over an execution store and a model-call store."""

    def __init__(
        self, store: ExecutionStore, model_calls: ModelCallStore, cacheable: Iterable[str]
    ) -> None:
        """Read usage from the stores.

        Args:
            store: The executions, their steps and events.
            model_calls: The model calls of their steps.
            cacheable: Names of the agents whose results may be cached (the registry's).
        """
        self._store = store
        self._calls = model_calls
        self._cacheable = frozenset(cacheable)

    async def token_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> TokenUsage:
        """Tokens and cost of the window's executions: their steps' calls and planning."""
        steps = UsageTotals()
        planning = UsageTotals()
        async for record in executions_in_window(self._store, since, until, workspace_id):
            for step_id, totals in (await self._calls.totals_by_step(record.id)).items():
                if step_id is not None:  # calls outside a step are planning: in the plan
                    steps = steps.merged(totals)
            planning = planning.merged(_provenance(record.plan))
        return TokenUsage(
            input_tokens=steps.input_tokens + planning.input_tokens,
            output_tokens=steps.output_tokens + planning.output_tokens,
            cost_usd=steps.cost_usd + planning.cost_usd,
            calls=steps.calls + planning.calls,
            unpriced_calls=steps.unpriced_calls,
        )

    async def cache_usage(
        self, since: datetime, until: datetime, workspace_id: str | None
    ) -> CacheUsage:
        """Lookups and hits of the window's executions (see `CACHE_DEFINITION`)."""
        lookups = hits = 0
        if not self._cacheable:
            return CacheUsage(hits=0, misses=0)
        async for record in executions_in_window(self._store, since, until, workspace_id):
            eligible = await self._eligible(record)
            if not eligible:
                continue
            lookups += len(eligible)
            hits += len(eligible & await self._hits(record.id, eligible))
        return CacheUsage(hits=hits, misses=lookups - hits)

    async def _eligible(self, record: ExecutionRecord) -> set[str]:
        """Ids of the execution's steps that count as lookups."""
        opted_out = _cache_off(record.plan)
        return {
            s.step_id
            for s in await self._store.get_steps(record.id)
            if s.status is StepStatus.SUCCEEDED
            and s.agent in self._cacheable
            and s.step_id not in opted_out
        }

    async def _hits(self, execution_id: str, eligible: set[str]) -> set[str]:
        """Ids of the steps a cached success was logged for (checkpoint included)."""
        found = {
            e.event.step_id
            for e in await self._store.events(execution_id)
            if isinstance(e.event, StepSucceeded) and e.event.cached
        }
        checkpoint = await self._store.checkpoint(execution_id)
        if checkpoint is not None:
            found |= {s for s in eligible if cache_hit_in_snapshot(checkpoint.snapshot, s)}
        return found


def _provenance(plan: dict[str, Any]) -> UsageTotals:
    """What planning cost, from a stored plan's provenance (absent: nothing)."""
    provenance: Any = plan.get("provenance")
    if not isinstance(provenance, dict):
        return UsageTotals()
    return UsageTotals(
        calls=int(provenance.get("calls") or 0),
        input_tokens=int(provenance.get("input_tokens") or 0),
        output_tokens=int(provenance.get("output_tokens") or 0),
        cost_usd=float(provenance.get("cost_usd") or 0.0),
    )


def _cache_off(plan: dict[str, Any]) -> set[str]:
    """Ids of the plan's steps whose ``policy.cache`` is off."""
    steps: Any = plan.get("steps")
    off: set[str] = set()
    for step in steps if isinstance(steps, list) else []:
        policy: Any = step.get("policy") if isinstance(step, dict) else None
        if isinstance(policy, dict) and policy.get("cache") is False:
            off.add(str(step["id"]))  # pyright: ignore[reportUnknownArgumentType]
    return off
