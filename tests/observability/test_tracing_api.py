"""Trace context in from API requests, and the trace route (scoped, like every route)."""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from baton.api.app import create_app
from baton.app import Baton
from baton.observability.tracing import Tracing, setup_tracing
from baton.settings import Settings
from baton.store.traces import MemoryTraceStore
from support.api import Api
from support.live_server import live_server

pytestmark = pytest.mark.anyio

SIMPLE_PLAN = {
    "steps": [
        {"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}},
        {
            "id": "b",
            "agent": "text.transform",
            "inputs": {"text": "${a.text}", "operation": "lower"},
        },
    ]
}
GATED_PLAN = {
    "steps": [
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "hi"},
            "policy": {"critical": True},
        }
    ]
}


@dataclass
class TracedApi:
    api: Api
    tracing: Tracing
    exporter: InMemorySpanExporter

    def roots(self, execution_id: str) -> list[ReadableSpan]:
        return [
            s
            for s in self.exporter.get_finished_spans()
            if s.name == "execution"
            and s.attributes is not None
            and s.attributes["baton.execution_id"] == execution_id
        ]


@contextlib.asynccontextmanager
async def traced_api(tmp_path: Path) -> AsyncIterator[TracedApi]:
    """A live API whose engine runs executions under a `TracingInterceptor`."""
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    exporter = InMemorySpanExporter()
    keys: list[str] = []
    async with Baton.open(settings, in_memory=True, discover_plugins=False) as baton:
        tracing = setup_tracing(
            settings, MemoryTraceStore(), processors=[SimpleSpanProcessor(exporter)]
        )
        try:
            executor = baton.orchestrator.executor
            executor.options = dataclasses.replace(
                executor.options, interceptors=(tracing.interceptor,)
            )
            baton.tracing = tracing  # the routes read the spans this tracing keeps
            app = create_app(settings, baton=baton, on_first_key=keys.append)
            async with live_server(app) as server:
                yield TracedApi(
                    Api(server=server, baton=baton, admin_key=keys[0]), tracing, exporter
                )
        finally:
            await tracing.shutdown()


def traceparent() -> tuple[str, int, int]:
    trace_id, parent_id = secrets.randbits(128) | 1, secrets.randbits(64) | 1
    return f"00-{trace_id:032x}-{parent_id:016x}-01", trace_id, parent_id


async def wait_for(http: httpx.AsyncClient, execution_id: str, status: str) -> None:
    with anyio.fail_after(20):
        while True:
            if (await http.get(f"/api/orchestrate/{execution_id}")).json()["status"] == status:
                return
            await anyio.sleep(0.02)


async def start(http: httpx.AsyncClient, plan: dict[str, Any], **headers: str) -> str:
    response = await http.post("/api/orchestrate", json={"plan": plan}, headers=headers)
    assert response.status_code == 202, response.text
    return response.json()["execution"]["id"]


async def test_a_requests_traceparent_becomes_the_parent_of_the_execution(
    tmp_path: Path,
) -> None:
    async with traced_api(tmp_path) as t, t.api.client(t.api.admin_key) as http:
        header, trace_id, parent_id = traceparent()
        ex_id = await start(http, SIMPLE_PLAN, traceparent=header)
        await wait_for(http, ex_id, "succeeded")
        untraced = await start(http, SIMPLE_PLAN)
        await wait_for(http, untraced, "succeeded")
        await t.tracing.flush()

        (root,) = t.roots(ex_id)
        assert root.context is not None
        assert root.parent is not None
        assert root.context.trace_id == trace_id
        assert root.parent.span_id == parent_id
        assert root.parent.is_remote
        steps = [s for s in t.exporter.get_finished_spans() if s.name.startswith("step ")]
        mine = [s for s in steps if s.context is not None and s.context.trace_id == trace_id]
        assert sorted(s.name for s in mine) == ["step a", "step b"]
        # Without the header, the execution is a trace of its own.
        (other,) = t.roots(untraced)
        assert other.parent is None
        assert other.context is not None
        assert other.context.trace_id != trace_id


async def test_a_resumed_execution_joins_the_trace_of_the_request_that_resumed_it(
    tmp_path: Path,
) -> None:
    async with traced_api(tmp_path) as t, t.api.client(t.api.admin_key) as http:
        first, first_trace, _ = traceparent()
        ex_id = await start(http, GATED_PLAN, traceparent=first)
        await wait_for(http, ex_id, "waiting")
        approvals = (await http.get("/api/approvals")).json()
        approval_id = next(a["id"] for a in approvals if a["execution_id"] == ex_id)
        second, second_trace, second_parent = traceparent()
        response = await http.post(
            f"/api/approvals/{approval_id}/approve", json={}, headers={"traceparent": second}
        )
        assert response.status_code == 200, response.text
        await wait_for(http, ex_id, "succeeded")
        await t.tracing.flush()

        runs = sorted(t.roots(ex_id), key=lambda s: s.start_time or 0)
        assert [r.context.trace_id for r in runs if r.context is not None] == [
            first_trace,
            second_trace,
        ]
        assert runs[1].parent is not None
        assert runs[1].parent.span_id == second_parent


async def test_the_trace_route_gives_the_span_tree_and_hides_other_workspaces(
    tmp_path: Path,
) -> None:
    async with traced_api(tmp_path) as t:
        async with t.api.client(t.api.admin_key) as http:
            ex_id = await start(http, SIMPLE_PLAN)
            await wait_for(http, ex_id, "succeeded")
            await t.tracing.flush()
            body, missing, other_key = await read_trace(http, ex_id)
        async with t.api.client(other_key) as eve:
            foreign = await eve.get(f"/api/orchestrate/{ex_id}/trace")
    assert body["execution_id"] == ex_id
    spans = body["spans"]
    assert spans[0]["name"] == "execution"
    assert spans[0]["depth"] == 0
    root_id = spans[0]["span_id"]
    steps = [s for s in spans if s["name"].startswith("step ")]
    assert [s["name"] for s in steps] == ["step a", "step b"]
    assert all(s["depth"] == 1 and s["parent_span_id"] == root_id for s in steps)
    assert all(s["duration_s"] >= 0 and s["end"] >= s["start"] for s in spans)
    assert steps[0]["attributes"]["baton.agent"] == "text.transform"
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["type"] == missing.json()["type"]
    assert foreign.json()["detail"] == missing.json()["detail"].replace("ex_doesnotexist", ex_id)


async def read_trace(
    http: httpx.AsyncClient, ex_id: str
) -> tuple[dict[str, Any], httpx.Response, str]:
    """The execution's trace, the answer for a missing one, and another workspace's key."""
    response = await http.get(f"/api/orchestrate/{ex_id}/trace")
    assert response.status_code == 200, response.text
    created = await http.post("/api/workspaces", json={"name": "other", "admin_name": "eve"})
    assert created.status_code == 201, created.text
    missing = await http.get("/api/orchestrate/ex_doesnotexist/trace")
    return response.json(), missing, created.json()["admin_key"]


async def test_the_trace_route_is_empty_when_tracing_is_off(tmp_path: Path) -> None:
    from support.api import running_api

    settings = Settings(
        data_dir=tmp_path / "data",
        workspace=tmp_path,
        tracing=False,
        _env_file=None,  # type: ignore[call-arg]
    )
    async with running_api(settings) as api, api.client(api.admin_key) as http:
        ex_id = await start(http, SIMPLE_PLAN)
        await wait_for(http, ex_id, "succeeded")
        response = await http.get(f"/api/orchestrate/{ex_id}/trace")
    assert response.status_code == 200
    assert response.json() == {"execution_id": ex_id, "spans": []}
