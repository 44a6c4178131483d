"""Conformance suite: every AlertStore and Activity implementation must pass all of these.

Each test runs in memory, on SQLite and on PostgreSQL (`store_database`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import pytest

from baton.errors import UsageError
from baton.events import (
    ExecutionFinished,
    ExecutionStarted,
    ExecutionStatus,
    StepFailed,
    StepLog,
    StepRetrying,
    StepStarted,
)
from baton.store.alerts import (
    Activity,
    Alert,
    AlertStore,
    MemoryAlertStore,
    Outcomes,
    Severity,
    StoreActivity,
    new_alert_id,
)
from baton.store.memory import MemoryExecutionStore
from baton.store.protocol import ExecutionStore
from baton.store.records import ExecutionRecord, StepRecord
from baton.store.sql.alerts import SqlActivity, SqlAlertStore
from baton.store.sql.database import Database
from baton.store.sql.execution_store import SqlExecutionStore
from baton.store.sql.rate_limits import SqlAdmissionStore

pytestmark = pytest.mark.anyio

T0 = datetime(2026, 3, 9, 9, 0, tzinfo=UTC)


def alert(rule: str = "long_running", key: str = "ex_1", **changes: Any) -> Alert:
    values: dict[str, Any] = {
        "id": new_alert_id(),
        "rule": rule,
        "key": key,
        "severity": Severity.WARNING,
        "message": f"{rule} {key}",
        "workspace_id": "default",
        "labels": {"execution_id": key},
        "fired_at": T0,
    }
    return Alert(**{**values, **changes})


@dataclass
class Backend:
    alerts: AlertStore
    activity: Activity
    executions: ExecutionStore
    db: Database | None


@pytest.fixture
def backend(store_database: Database | None) -> Backend:
    if store_database is None:
        executions = MemoryExecutionStore()
        return Backend(MemoryAlertStore(), StoreActivity(executions), executions, None)
    return Backend(
        SqlAlertStore(store_database),
        SqlActivity(store_database),
        SqlExecutionStore(store_database),
        store_database,
    )


@pytest.fixture
def store(backend: Backend) -> AlertStore:
    return backend.alerts


# --- AlertStore ---------------------------------------------------------------------------


async def test_fire_stores_and_round_trips_every_field(store: AlertStore) -> None:
    a = alert(labels={"execution_id": "ex_1", "process": "h:1"}, severity=Severity.CRITICAL)

    assert await store.fire([a]) == [a]

    assert await store.firing() == [a]
    assert await store.list() == [a]


async def test_an_alert_firing_already_is_not_fired_again(store: AlertStore) -> None:
    first = alert()
    await store.fire([first])

    again = alert(message="a second opinion", fired_at=T0 + timedelta(minutes=1))
    other = alert(key="ex_2")
    assert await store.fire([again, other]) == [other]

    assert {a.id for a in await store.firing()} == {first.id, other.id}


async def test_fire_refuses_resolved_alerts_and_duplicate_keys(store: AlertStore) -> None:
    with pytest.raises(UsageError, match="resolved already"):
        await store.fire([alert(resolved_at=T0)])
    with pytest.raises(UsageError, match="share the key"):
        await store.fire([alert(), alert()])
    assert await store.firing() == []


async def test_resolve_returns_what_it_resolved_once(store: AlertStore) -> None:
    a, b = alert(key="ex_1"), alert(key="ex_2")
    await store.fire([a, b])
    at = T0 + timedelta(minutes=5)

    resolved = await store.resolve([("long_running", "ex_1"), ("long_running", "nope")], at)

    assert [(r.id, r.resolved_at, r.firing) for r in resolved] == [(a.id, at, False)]
    assert await store.resolve([("long_running", "ex_1")], at) == []
    assert [x.id for x in await store.firing()] == [b.id]


async def test_a_resolved_alert_may_fire_again_as_a_new_alert(store: AlertStore) -> None:
    first = alert()
    await store.fire([first])
    await store.resolve([first.ident], T0 + timedelta(minutes=1))

    second = alert(fired_at=T0 + timedelta(minutes=2))
    assert await store.fire([second]) == [second]

    assert [a.id for a in await store.firing()] == [second.id]
    history = await store.list(include_resolved=True)
    assert [(a.id, a.firing) for a in history] == [(second.id, True), (first.id, False)]


async def test_list_is_newest_first_filtered_and_limited(store: AlertStore) -> None:
    mine = alert(key="a", workspace_id="ws1", fired_at=T0)
    theirs = alert(key="b", workspace_id="ws2", fired_at=T0 + timedelta(seconds=1))
    everyone = alert(
        rule="memory", key="h:1", workspace_id=None, fired_at=T0 + timedelta(seconds=2)
    )
    done = alert(key="c", workspace_id="ws1", fired_at=T0 + timedelta(seconds=3))
    await store.fire([mine, theirs, everyone, done])
    await store.resolve([done.ident], T0 + timedelta(minutes=1))

    assert [a.id for a in await store.list()] == [everyone.id, theirs.id, mine.id]
    assert [a.id for a in await store.list(visible_to="ws1")] == [everyone.id, mine.id]
    assert [a.id for a in await store.list(visible_to="ws1", include_resolved=True)] == [
        done.id,
        everyone.id,
        mine.id,
    ]
    assert [a.id for a in await store.list(limit=1)] == [everyone.id]
    with pytest.raises(UsageError):
        await store.list(limit=0)


async def test_prune_forgets_only_old_resolved_alerts(store: AlertStore) -> None:
    old, recent, firing = alert(key="a"), alert(key="b"), alert(key="c")
    await store.fire([old, recent, firing])
    await store.resolve([old.ident], T0 + timedelta(days=1))
    await store.resolve([recent.ident], T0 + timedelta(days=9))

    assert await store.prune(T0 + timedelta(days=8)) == 1

    remaining = await store.list(include_resolved=True)
    assert {a.id for a in remaining} == {recent.id, firing.id}


async def test_concurrent_fires_of_one_alert_store_it_once(backend: Backend) -> None:
    """Many callers (two processes' evaluators) fire the same (rule, key) at once."""
    stores: list[AlertStore] = [backend.alerts]
    if backend.db is not None:
        stores.append(SqlAlertStore(backend.db))  # a second store object on the same database
    won: list[Alert] = []

    async def fire(i: int) -> None:
        won.extend(await stores[i % len(stores)].fire([alert(message=str(i))]))

    async with anyio.create_task_group() as tg:
        for i in range(8):
            tg.start_soon(fire, i)

    assert len(won) == 1
    assert [a.id for a in await backend.alerts.firing()] == [won[0].id]
    results: list[list[Alert]] = []

    async def resolve(i: int) -> None:
        results.append(await stores[i % len(stores)].resolve([won[0].ident], T0))

    async with anyio.create_task_group() as tg:
        for i in range(4):
            tg.start_soon(resolve, i)
    assert sorted(len(r) for r in results) == [0, 0, 0, 1]


# --- Activity -----------------------------------------------------------------------------


async def new_execution(
    executions: ExecutionStore, ex_id: str, workspace: str = "default", name: str = "demo"
) -> None:
    record = ExecutionRecord(
        id=ex_id,
        name=name,
        request=None,
        plan={},
        status=ExecutionStatus.PENDING,
        created_at=T0 - timedelta(hours=2),
        workspace_id=workspace,
    )
    await executions.create_execution(
        record, [StepRecord(execution_id=ex_id, step_id="a", agent="x", position=0)]
    )


async def test_running_lists_executions_started_before_the_cutoff(backend: Backend) -> None:
    ex = backend.executions
    for ex_id, started in (("ex_old", T0), ("ex_new", T0 + timedelta(minutes=9))):
        await new_execution(ex, ex_id, workspace="ws1", name=f"plan {ex_id}")
        await ex.append([ExecutionStarted(execution_id=ex_id, at=started)])
    await new_execution(ex, "ex_done")
    await ex.append(
        [
            ExecutionStarted(execution_id="ex_done", at=T0 - timedelta(hours=1)),
            ExecutionFinished(execution_id="ex_done", at=T0),
        ]
    )
    await new_execution(ex, "ex_pending")

    found = await backend.activity.running(T0 + timedelta(minutes=5))

    assert [(r.id, r.workspace_id, r.name, r.started_at) for r in found] == [
        ("ex_old", "ws1", "plan ex_old", T0)
    ]
    later = await backend.activity.running(T0 + timedelta(minutes=10))
    assert [r.id for r in later] == ["ex_old", "ex_new"]


async def test_outcomes_count_per_workspace_in_the_window(backend: Backend) -> None:
    ex = backend.executions
    ends = [
        ("s1", "ws1", ExecutionStatus.SUCCEEDED, T0 + timedelta(minutes=1)),
        ("s2", "ws1", ExecutionStatus.SUCCEEDED, T0 + timedelta(minutes=2)),
        ("f1", "ws1", ExecutionStatus.FAILED, T0 + timedelta(minutes=3)),
        ("c1", "ws1", ExecutionStatus.CANCELLED, T0 + timedelta(minutes=3)),
        ("f2", "ws2", ExecutionStatus.FAILED, T0 + timedelta(minutes=4)),
        ("old", "ws1", ExecutionStatus.FAILED, T0 - timedelta(minutes=1)),
        ("c2", "ws3", ExecutionStatus.CANCELLED, T0 + timedelta(minutes=4)),
    ]
    for ex_id, ws, status, at in ends:
        await new_execution(ex, ex_id, workspace=ws)
        await ex.append(
            [
                ExecutionStarted(execution_id=ex_id, at=T0 - timedelta(minutes=30)),
                ExecutionFinished(execution_id=ex_id, status=status, at=at),
            ]
        )
    await new_execution(ex, "running", workspace="ws1")
    await ex.append([ExecutionStarted(execution_id="running", at=T0)])

    assert await backend.activity.outcomes(T0) == {
        "ws1": Outcomes(succeeded=2, failed=1),
        "ws2": Outcomes(succeeded=0, failed=1),
    }
    assert Outcomes(succeeded=2, failed=1).success_rate == pytest.approx(2 / 3)
    assert Outcomes().success_rate is None


async def test_step_errors_count_failed_attempts_since(backend: Backend) -> None:
    ex = backend.executions
    await new_execution(ex, "ex_1")
    await ex.append(
        [
            ExecutionStarted(execution_id="ex_1", at=T0 - timedelta(minutes=5)),
            StepStarted(execution_id="ex_1", step_id="a", agent="x", at=T0 - timedelta(minutes=5)),
            StepRetrying(execution_id="ex_1", step_id="a", at=T0 - timedelta(minutes=2)),
            StepRetrying(execution_id="ex_1", step_id="a", at=T0 + timedelta(seconds=1)),
            StepLog(execution_id="ex_1", step_id="a", message="x", at=T0 + timedelta(seconds=2)),
            StepFailed(execution_id="ex_1", step_id="a", at=T0 + timedelta(seconds=3)),
        ]
    )
    await new_execution(ex, "ex_2")
    await ex.append(
        [
            ExecutionStarted(execution_id="ex_2", at=T0),
            StepFailed(execution_id="ex_2", step_id="a", at=T0),
            ExecutionFinished(
                execution_id="ex_2", status=ExecutionStatus.FAILED, at=T0 + timedelta(seconds=4)
            ),
        ]
    )

    assert await backend.activity.step_errors(T0) == 3
    assert await backend.activity.step_errors(T0 + timedelta(seconds=2)) == 1
    assert await backend.activity.step_errors(T0 + timedelta(minutes=1)) == 0


async def test_admissions_count_each_key_over_its_own_window(backend: Backend) -> None:
    if backend.db is None:
        assert await backend.activity.admissions(T0, lambda key: 60.0) == {}
        return
    admissions = SqlAdmissionStore(backend.db)
    for seconds_ago in (50, 20, 5, 1):
        now = T0 - timedelta(seconds=seconds_ago)
        await admissions.try_admit("http:a", 100, 3600, now)
        await admissions.try_admit("http:b", 100, 3600, now)
    await admissions.try_admit("gone", 100, 3600, T0)
    windows = {"http:a": 30.0, "http:b": 3600.0}

    counts = await backend.activity.admissions(T0, windows.get)

    assert counts == {"http:a": 3, "http:b": 4}
