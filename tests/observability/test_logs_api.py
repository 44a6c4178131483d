"""``/api/logs``: search, export and the SSE tail, each scoped to the caller's workspace."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from baton.events import utcnow
from baton.settings import Settings
from baton.store.logs import LogRecord
from support.api import Api, running_api

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    async with running_api(settings) as running:
        yield running


@pytest.fixture
async def other_key(api: Api) -> str:
    """An admin key of a second workspace."""
    async with api.client(api.admin_key) as http:
        created = (await http.post("/api/workspaces", json={"name": "other"})).json()
    return str(created["admin_key"])


def rec(message: str, workspace_id: str | None = "default", **kw: Any) -> LogRecord:
    values: dict[str, Any] = {"at": utcnow(), "level": 20, "logger": "baton.run"}
    return LogRecord(message=message, workspace_id=workspace_id, **(values | kw))


async def add(api: Api, *records: LogRecord) -> None:
    await api.baton.logs.add(records)


async def test_search_pages_newest_first_within_the_workspace(api: Api, other_key: str) -> None:
    await add(api, *(rec(f"disk full {i}", execution_id="ex_1") for i in range(5)))
    await add(api, rec("disk full elsewhere", workspace_id="ws_other", execution_id="ex_2"))
    await add(api, rec("disk full of the process", workspace_id=None))

    async with api.client(api.admin_key) as http:
        first = (await http.get("/api/logs", params={"q": "disk", "limit": 3})).json()
        assert [r["message"] for r in first["items"]] == [f"disk full {i}" for i in (4, 3, 2)]
        rest = await http.get(
            "/api/logs", params={"q": "disk", "limit": 3, "cursor": first["next_cursor"]}
        )
        assert [r["message"] for r in rest.json()["items"]] == ["disk full 1", "disk full 0"]
        assert rest.json()["next_cursor"] is None
        # Another workspace's execution id names nothing here.
        assert (await http.get("/api/logs", params={"execution_id": "ex_2"})).json()["items"] == []

    item = first["items"][0]
    assert set(item) == {
        "id",
        "at",
        "level",
        "logger",
        "message",
        "workspace_id",
        "execution_id",
        "step_id",
        "trace_id",
        "span_id",
        "extra",
    }
    assert (item["level"], item["workspace_id"]) == ("info", "default")


async def test_a_workspace_never_sees_another_workspaces_logs(api: Api, other_key: str) -> None:
    async with api.client(other_key) as http:
        me = (await http.get("/api/me")).json()
    await add(api, rec("secret plan of default"), rec("ours", workspace_id=me["workspace_id"]))

    async with api.client(other_key) as http:
        found = (await http.get("/api/logs")).json()["items"]
        exported = (await http.get("/api/logs/export")).text
        searched = (await http.get("/api/logs", params={"q": "plan"})).json()["items"]

    assert [r["message"] for r in found] == ["ours"]
    assert searched == []
    assert "secret plan" not in exported
    assert json.loads(exported)["message"] == "ours"


async def test_filters_by_level_execution_and_time(api: Api) -> None:
    now = utcnow()
    await add(
        api,
        rec("old warning", level=30, at=now - timedelta(hours=3)),
        rec("new error", level=40, execution_id="ex_1"),
        rec("new info", execution_id="ex_1"),
    )

    async def messages(**params: str) -> list[str]:
        async with api.client(api.admin_key) as http:
            response = await http.get("/api/logs", params=params)
            assert response.status_code == 200, response.text
            return [r["message"] for r in response.json()["items"]]

    assert await messages(level="warning") == ["new error", "old warning"]
    assert await messages(execution_id="ex_1") == ["new info", "new error"]
    assert await messages(since="1h") == ["new info", "new error"]
    assert await messages(since=(now - timedelta(hours=4)).isoformat(), q="old") == ["old warning"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"q": '"open phrase'}, "unterminated phrase"),
        ({"q": "?!"}, "no word to search for"),
        ({"since": "the other day"}, "cannot read the time"),
        ({"cursor": "abc"}, "is not one this API gave"),
        ({"level": "loud"}, "level"),
        ({"limit": "0"}, "limit"),
    ],
)
async def test_bad_parameters_are_problems(api: Api, params: dict[str, str], detail: str) -> None:
    async with api.client(api.admin_key) as http:
        response = await http.get("/api/logs", params=params)

    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert detail in response.text


async def test_export_streams_jsonl_and_csv_oldest_first(api: Api) -> None:
    await add(api, *(rec(f"line {i}", step_id="s") for i in range(1200)))

    async with api.client(api.admin_key) as http:
        jsonl = await http.get("/api/logs/export", params={"format": "jsonl"})
        table = await http.get("/api/logs/export", params={"format": "csv", "q": "1199"})
        bad = await http.get("/api/logs/export", params={"format": "csv", "since": "soon"})

    assert jsonl.status_code == 200
    assert jsonl.headers["content-type"] == "application/x-ndjson"
    assert 'filename="baton-logs.jsonl"' in jsonl.headers["content-disposition"]
    lines = [json.loads(line) for line in jsonl.text.splitlines()]
    assert [r["message"] for r in lines] == [f"line {i}" for i in range(1200)]
    assert table.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(table.text)))
    assert [(r["message"], r["step_id"], r["level"]) for r in rows] == [("line 1199", "s", "info")]
    assert bad.status_code == 422


class Events:
    """The SSE events (id, event, data) of a streaming response, read as they come."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()

    async def next(self, count: int) -> list[dict[str, str]]:
        events: list[dict[str, str]] = []
        current: dict[str, str] = {}
        with anyio.fail_after(10):
            async for line in self._lines:
                if not line:
                    if "data" in current:
                        events.append(current)
                        if len(events) == count:
                            return events
                    current = {}
                elif not line.startswith(":"):
                    field, _, value = line.partition(":")
                    current[field] = value.removeprefix(" ")
        return events


async def test_stream_sends_the_backlog_then_live_records_and_resumes_by_id(
    api: Api, other_key: str
) -> None:
    await add(api, *(rec(f"before {i}") for i in range(3)))

    async with (
        api.client(api.admin_key) as http,
        http.stream("GET", "/api/logs/stream", params={"backlog": 2}) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = Events(response)
        backlog = await events.next(2)
        await add(api, rec("elsewhere", workspace_id="ws_other"), rec("live one"))
        live = await events.next(1)

    assert [json.loads(e["data"])["message"] for e in backlog] == ["before 1", "before 2"]
    assert [e["event"] for e in backlog + live] == ["log", "log", "log"]
    assert json.loads(live[0]["data"])["message"] == "live one"
    ids = [int(e["id"]) for e in backlog + live]
    assert ids == sorted(ids)

    # Reconnect after the first backlog event: everything after it, in order, no more.
    await add(api, rec("while away"))
    async with (
        api.client(api.admin_key) as http,
        http.stream(
            "GET", "/api/logs/stream", headers={"Last-Event-ID": backlog[0]["id"]}
        ) as response,
    ):
        resumed = await Events(response).next(3)
    assert [json.loads(e["data"])["message"] for e in resumed] == [
        "before 2",
        "live one",
        "while away",
    ]


async def test_stream_filters_and_refuses_a_bad_last_event_id(api: Api) -> None:
    await add(api, rec("info one", execution_id="ex_1"), rec("error two", level=40))

    async with api.client(api.admin_key) as http:
        async with http.stream("GET", "/api/logs/stream", params={"level": "error"}) as response:
            [only] = await Events(response).next(1)
        bad = await http.get("/api/logs/stream", headers={"Last-Event-ID": "x"})

    assert json.loads(only["data"])["message"] == "error two"
    assert bad.status_code == 422


async def test_an_executions_records_are_searchable_by_its_id(api: Api) -> None:
    plan = {
        "steps": [
            {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}
        ]
    }
    async with api.client(api.admin_key) as http:
        started = await http.post("/api/orchestrate", json={"plan": plan})
        ex = started.json()["execution"]["id"]
        messages: list[str] = []
        found: dict[str, Any] = {}
        with anyio.fail_after(10):  # the aggregator writes every half second
            while "execution succeeded" not in messages:
                found = (await http.get("/api/logs", params={"execution_id": ex})).json()
                messages = [r["message"] for r in found["items"]]
                await anyio.sleep(0.05)

    assert messages == ["execution succeeded", "execution started (1 steps)"]
    assert {r["workspace_id"] for r in found["items"]} == {"default"}
