"""``GET /api/alerts`` and alert notices on ``GET /api/stream``, against a live server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import anyio
import pytest
from httpx_sse import aconnect_sse

from baton.events import ExecutionStarted, ExecutionStatus, utcnow
from baton.settings import Settings
from baton.store.alerts import Alert, Severity, new_alert_id
from baton.store.records import ExecutionRecord, StepRecord
from support.api import Api, running_api
from support.poll import wait_until

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(  # type: ignore[call-arg]
        data_dir=tmp_path / "data",
        workspace=tmp_path,
        alert_long_running_s=1,
        alert_interval_s=3600,  # the server's own loop ticks at start only
        _env_file=None,  # type: ignore[call-arg]
    )
    async with running_api(settings) as running:
        yield running


def alert(key: str, workspace_id: str | None, **kw: object) -> Alert:
    # A rule the server's evaluator does not have: it leaves these alone.
    values: dict[str, object] = {
        "id": new_alert_id(),
        "rule": "test_rule",
        "key": key,
        "severity": Severity.WARNING,
        "message": f"about {key}",
        "workspace_id": workspace_id,
        "labels": {"k": key},
        "fired_at": utcnow(),
    }
    return Alert(**{**values, **kw})  # type: ignore[arg-type]


async def test_a_caller_sees_service_wide_alerts_and_its_workspace_s_only(api: Api) -> None:
    async with api.client(api.admin_key) as admin:
        other = (await admin.post("/api/workspaces", json={"name": "other"})).json()
    other_id = other["workspace"]["id"]
    store = api.baton.alerts.store
    mine, theirs, everyone, old = (
        alert("mine", "default"),
        alert("theirs", other_id),
        alert("everyone", None),
        alert("old", "default"),
    )
    await store.fire([mine, theirs, everyone, old])
    await store.resolve([old.ident], utcnow())

    async with api.client(api.admin_key) as http, api.client(other["admin_key"]) as stranger:
        firing = (await http.get("/api/alerts")).json()
        history = (await http.get("/api/alerts", params={"include_resolved": "true"})).json()
        theirs_seen = (await stranger.get("/api/alerts")).json()
        limited = await http.get("/api/alerts", params={"limit": 0})
        anonymous = await http.get("/api/alerts", headers={"Authorization": ""})

    assert {a["key"] for a in firing} == {"mine", "everyone"}
    assert {a["key"] for a in history} == {"mine", "everyone", "old"}
    assert {a["key"] for a in theirs_seen} == {"theirs", "everyone"}
    [shown] = [a for a in firing if a["key"] == "mine"]
    assert shown == {
        "id": mine.id,
        "rule": "test_rule",
        "key": "mine",
        "severity": "warning",
        "message": "about mine",
        "workspace_id": "default",
        "labels": {"k": "mine"},
        "fired_at": shown["fired_at"],
        "resolved_at": None,
        "firing": True,
    }
    [done] = [a for a in history if a["key"] == "old"]
    assert done["firing"] is False
    assert done["resolved_at"] is not None
    assert limited.status_code == 422
    assert anonymous.status_code == 401


async def test_an_alert_that_fires_streams_to_its_workspace(api: Api) -> None:
    ex_id = "ex_long"
    record = ExecutionRecord(
        id=ex_id,
        name="slow",
        request=None,
        plan={},
        status=ExecutionStatus.PENDING,
        created_at=utcnow(),
        workspace_id="default",
    )
    store = api.baton.store
    await store.create_execution(
        record, [StepRecord(execution_id=ex_id, step_id="a", agent="x", position=0)]
    )
    await store.append([ExecutionStarted(execution_id=ex_id, at=utcnow() - timedelta(seconds=5))])

    notices: list[dict[str, object]] = []
    async with (
        api.client(api.admin_key) as http,
        aconnect_sse(http, "GET", "/api/stream") as source,
    ):
        await wait_until(lambda: api.baton.bus.subscribers == 1)
        tick = await api.baton.alerts.check()
        assert [a.ident for a in tick.fired] == [("long_running", ex_id)]
        with anyio.fail_after(10):
            async for sse in source.aiter_sse():
                if sse.event == "alert_fired":
                    assert sse.id == ""
                    notices.append(json.loads(sse.data))
                    break

    assert [(n["rule"], n["key"], n["workspace_id"]) for n in notices] == [
        ("long_running", ex_id, "default")
    ]
