"""`baton serve` itself, and what the API does at startup."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import anyio
import httpx
import pytest

from baton.app import Baton
from baton.core.plan import Plan
from baton.events import ExecutionStatus, utcnow
from baton.settings import Settings
from baton.store.records import ExecutionRecord, StepRecord
from support.api import running_api

pytestmark = pytest.mark.anyio

PLAN = {
    "steps": [{"id": "a", "agent": "text.transform", "inputs": {"text": "x", "operation": "upper"}}]
}
KEY = re.compile(r"baton_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_startup_takes_up_an_execution_a_dead_process_left(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    plan = Plan.model_validate(PLAN)
    async with Baton.open(settings, discover_plugins=False) as baton:
        long_ago = utcnow() - timedelta(hours=1)
        record = ExecutionRecord(
            id="ex_orphan",
            name="orphan",
            request=None,
            plan=plan.model_dump(mode="json"),
            status=ExecutionStatus.RUNNING,
            created_at=long_ago,
            lease_owner="a-process-that-died",
            lease_expires_at=long_ago,
        )
        await baton.store.create_execution(
            record,
            [StepRecord(execution_id="ex_orphan", step_id="a", agent="text.transform", position=0)],
        )
    async with running_api(settings, in_memory=False) as api, api.client(api.admin_key) as http:
        with anyio.fail_after(20):
            while True:
                body = (await http.get("/api/orchestrate/ex_orphan")).json()
                if body["status"] == "succeeded":
                    break
                await anyio.sleep(0.05)
        steps = (await http.get("/api/orchestrate/ex_orphan/steps")).json()
    assert steps[0]["output"] == {"text": "X"}


@contextlib.contextmanager
def serving(env: dict[str, str], cwd: Path, port: int) -> Iterator[tuple[httpx.Client, list[str]]]:
    """`baton serve` in a subprocess; yields a client once it answers, and (after the block)
    its output in the list."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "baton", "serve"],
        env=env,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/api/health").status_code == 200:
                        break
                assert time.monotonic() < deadline, "baton serve did not answer"
                time.sleep(0.05)
            yield http, output
    finally:
        proc.terminate()
        output.append(proc.communicate(timeout=20)[0])


def test_baton_serve_prints_the_first_admin_key_once_and_serves(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path / "data"), "BATON_PORT": str(port)}
    env.pop("BATON_URL", None)
    with serving(env, tmp_path, port) as (_, first):
        pass
    keys = KEY.findall(first[0])
    assert len(keys) == 1, first[0]
    with serving(env, tmp_path, port) as (http, second):
        assert http.get("/api/orchestrate").status_code == 401
        me = http.get("/api/me", headers={"Authorization": f"Bearer {keys[0]}"})
        assert me.status_code == 200
        assert me.json()["role"] == "admin"
    assert KEY.findall(second[0]) == []  # the key is shown on the first start only


def test_a_port_in_use_is_a_clear_error_before_anything_starts(tmp_path: Path) -> None:
    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path / "data")}
    env.pop("BATON_URL", None)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "baton", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in done.stderr
    assert "--port N or BATON_PORT" in done.stderr
    assert "Traceback" not in done.stderr
    assert "startup" not in done.stdout + done.stderr  # the app never started
    assert not KEY.findall(done.stdout + done.stderr)  # nor made the first admin
