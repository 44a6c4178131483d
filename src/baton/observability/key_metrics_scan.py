"""The key metrics computed by reading an `ExecutionStore` (engines with no SQL database).

`baton.observability.key_metrics` aggregates in SQL, which costs the same however long the
window. An in-memory engine (tests, notebooks, ``Baton.open(in_memory=True)``) has no
database, so here the same figures come from paging through its executions, newest first,
until one was created before the window, and reading each one's steps. That is linear in the
executions of the window: fine in memory, never used for a database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import datetime

from baton.events import ExecutionStatus, StepStatus
from baton.observability.key_metrics import KeyMetrics, UsageSource
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord

__all__ = ["executions_in_window", "scan_key_metrics"]

_PAGE = 200
_FINISHED = (ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED)


async def executions_in_window(
    store: ExecutionStore, since: datetime, until: datetime, workspace_id: str | None
) -> AsyncIterator[ExecutionRecord]:
    """The executions of `store` created in ``[since, until)``, newest first."""
    before: str | None = None
    while True:
        page = await store.list_executions(limit=_PAGE, workspace_id=workspace_id, before=before)
        for record in page:
            if since <= record.created_at < until:
                yield record
        # Newest first: once a page reaches before the window, older pages are all outside.
        if len(page) < _PAGE or page[-1].created_at < since:
            return
        before = page[-1].id


async def scan_key_metrics(
    store: ExecutionStore,
    *,
    since: datetime,
    until: datetime,
    workspace_id: str | None = None,
    usage: UsageSource | None = None,
) -> KeyMetrics:
    """The key metrics of the executions created in ``[since, until)``, read from `store`.

    Args:
        store: The executions.
        since: Start of the window (timezone-aware).
        until: End of the window.
        workspace_id: Count only this workspace's executions; None for all.
        usage: Where token and cache usage is read; None: not recorded (n/a).
    """
    by_status = dict.fromkeys(ExecutionStatus, 0)
    durations: list[float] = []
    steps_ok = steps_failed = 0
    async for record in executions_in_window(store, since, until, workspace_id):
        by_status[record.status] += 1
        if record.status in _FINISHED and record.started_at and record.finished_at:
            durations.append((record.finished_at - record.started_at).total_seconds())
        for step in await store.get_steps(record.id):
            steps_ok += step.status is StepStatus.SUCCEEDED
            steps_failed += step.status is StepStatus.FAILED
    found = KeyMetrics(
        since=since,
        until=until,
        workspace_id=workspace_id,
        executions=by_status,
        average_duration_s=sum(durations) / len(durations) if durations else None,
        steps_succeeded=steps_ok,
        steps_failed=steps_failed,
    )
    if usage is None:
        return found
    return replace(
        found,
        tokens=await usage.token_usage(since, until, workspace_id),
        cache=await usage.cache_usage(since, until, workspace_id),
    )
