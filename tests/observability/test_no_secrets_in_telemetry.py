"""Everything telemetry keeps of a run that handled secrets: no secret in any of it.

A run through the API (with an API key) of steps whose inputs, logs and errors carry
secret-looking values; then every span kept, every log record and the metrics page are
searched for each secret.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import anyio
import httpx
import pytest

from baton.agents.decorator import agent
from baton.agents.protocol import AgentContext
from baton.api.app import create_app
from baton.app import Baton
from baton.errors import AgentError
from baton.settings import Settings
from support.live_server import live_server

pytestmark = pytest.mark.anyio

PROVIDER_KEY = "sk-live-4f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"
PASSWORD = "hunter2-correct-horse"


@agent("test.call_service", description="Calls a service with a key (for the secrets test).")
async def call_service(api_key: str, ctx: AgentContext) -> str:
    ctx.log(f"calling https://user:{PASSWORD}@svc.example/v1 with Bearer {api_key}")
    return "ok"


@agent("test.leaky_failure", description="Fails with a secret in its message.")
async def leaky_failure(ctx: AgentContext) -> str:
    raise AgentError(f"login refused: password={PASSWORD} token: {PROVIDER_KEY}")


async def test_no_secret_reaches_spans_logs_or_metrics(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    keys: list[str] = []
    plan = {
        "steps": [
            {"id": "call", "agent": "test.call_service", "inputs": {"api_key": PROVIDER_KEY}},
            {"id": "fail", "agent": "test.leaky_failure", "inputs": {}},
        ]
    }
    async with Baton.open(
        settings, in_memory=True, discover_plugins=False, agents=[call_service, leaky_failure]
    ) as baton:
        app = create_app(settings, baton=baton, on_first_key=keys.append)
        async with live_server(app) as server:
            headers = {"Authorization": f"Bearer {keys[0]}"}
            async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
                started = await http.post("/api/orchestrate", json={"plan": plan})
                ex_id = started.json()["execution"]["id"]
                with anyio.fail_after(20):
                    while True:
                        body = (await http.get(f"/api/orchestrate/{ex_id}")).json()
                        if body["status"] == "failed":
                            break
                        await anyio.sleep(0.05)
                metrics_page = (await http.get("/metrics")).text
        await baton.tracing.flush()
        await anyio.sleep(1.2)  # the log aggregator writes every 0.5 s
        assert baton.tracing.traces is not None
        spans = await baton.tracing.traces.spans(ex_id)
        logs = [r async for r in baton.logs.export(workspace_id=None)]

    assert spans, "the run left no spans"
    assert any(r.execution_id == ex_id for r in logs), "the run left no log records"
    assert 'baton_executions_finished_total{status="failed"} 1.0' in metrics_page
    kept = {
        "spans": json.dumps([dataclasses.asdict(s) for s in spans], default=str),
        "logs": json.dumps([dataclasses.asdict(r) for r in logs], default=str),
        "metrics": metrics_page,
    }
    api_secret = keys[0].split("_", 2)[2]
    for where, text in kept.items():
        for secret in (PROVIDER_KEY, PASSWORD, keys[0], api_secret):
            assert secret not in text, f"{secret[:6]}... found in {where}"
    # The records are there, only masked: the redaction did not drop the lines.
    assert any("calling https://" in r.message for r in logs)
