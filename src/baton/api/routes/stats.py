"""``/api/stats``: the seed's six key metrics of the caller's workspace, as JSON.

The same figures and shape as ``baton stats --json`` (see `baton.observability.key_metrics`),
over the executions created in the last ``window_s`` seconds, for the dashboard's Metrics
page. Unlike ``/metrics`` (the whole process, admins only), these are one workspace's, so
whoever may read its executions may read them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from baton.api.auth import Services, requires
from baton.enterprise.roles import Permission
from baton.enterprise.tenancy import Principal
from baton.observability.key_metrics import KeyMetrics

router = APIRouter(prefix="/api/stats", tags=["metrics"])

Reader = Annotated[Principal, Depends(requires(Permission.EXECUTIONS_READ))]

MAX_WINDOW_S = 366 * 86_400.0
"""The longest window asked for: a year."""


class ExecutionCounts(BaseModel):
    """Executions created in the window."""

    total: int
    by_status: dict[str, int]
    """Every status, zeros included."""


class TokenCounts(BaseModel):
    """Language-model tokens the window's executions used: their steps and their planning."""

    input: int
    output: int
    total: int
    cost_usd: float | None
    """Estimated cost of the priced calls."""
    calls: int
    unpriced_calls: int
    """Calls whose model has no price (not in `cost_usd`)."""


class StepCounts(BaseModel):
    """Steps of the window's executions that ran to an outcome."""

    succeeded: int
    failed: int


class KeyStatsOut(BaseModel):
    """The six key metrics of a window (``baton stats --json``'s shape)."""

    since: datetime
    until: datetime
    workspace: str | None
    executions: ExecutionCounts
    success_rate: float | None
    """Succeeded / finished; null while none has finished."""
    finished: int
    average_duration_s: float | None
    """Mean duration of the finished executions; null without any."""
    tokens: TokenCounts | None
    """Null while nothing records model calls."""
    cache_hit_rate: float | None
    """Cached successes / successes of cacheable steps; null without any such step."""
    error_rate: float | None
    """Failed steps / steps that ran to an outcome; null when none did."""
    steps: StepCounts
    errors_per_minute: float


def key_stats_out(m: KeyMetrics) -> KeyStatsOut:
    """The wire form of `KeyMetrics`."""
    return KeyStatsOut(
        since=m.since,
        until=m.until,
        workspace=m.workspace_id,
        executions=ExecutionCounts(
            total=m.execution_count, by_status={s.value: n for s, n in m.executions.items()}
        ),
        success_rate=m.success_rate,
        finished=m.finished,
        average_duration_s=m.average_duration_s,
        tokens=None
        if m.tokens is None
        else TokenCounts(
            input=m.tokens.input_tokens,
            output=m.tokens.output_tokens,
            total=m.tokens.total,
            cost_usd=m.tokens.cost_usd,
            calls=m.tokens.calls,
            unpriced_calls=m.tokens.unpriced_calls,
        ),
        cache_hit_rate=m.cache_hit_rate,
        error_rate=m.error_rate,
        steps=StepCounts(succeeded=m.steps_succeeded, failed=m.steps_failed),
        errors_per_minute=m.errors_per_minute,
    )


@router.get("", summary="Key metrics of the caller's workspace over a recent window")
async def stats(
    services: Services,
    principal: Reader,
    window_s: Annotated[float, Query(gt=0, le=MAX_WINDOW_S)] = 86_400.0,
) -> KeyStatsOut:
    """Execution count, success rate, average duration, tokens, cache hit rate, error rate."""
    until = datetime.now(UTC)
    since = until - timedelta(seconds=window_s)
    found = await services.baton.key_metrics(
        since=since, until=until, workspace_id=principal.workspace_id
    )
    return key_stats_out(found)
