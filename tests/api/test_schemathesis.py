"""Schemathesis against the live OpenAPI: generated requests, stateful sequences included.

At least 1,000 generated requests; zero 5xx, zero responses that break the documented
schema, content type, headers or status codes. Excluded, and why:

- ``positive_data_acceptance``: a schema-valid request can still be refused for what it
  means (a request the planner cannot plan, a key expiring in the past): 422 / 400 there
  is the right answer, not a failure.
- the routes that can take the fuzzer's own access away (revoking keys, removing or
  demoting members): once they succeed, every later request is a 401. They are covered by
  the RBAC matrix and the tenancy tests.
- the streams: an SSE response does not end while its execution runs
  (`test_live_api.py` and the SSE load test cover them).

The dashboard's ``/api/session`` is fuzzed, not excluded: it cannot take the fuzzer's access
away, since every key it generates is a bad one (401) and the fuzzer authenticates by header,
which wins over any cookie; with no session cookie, signing out only clears cookies (204).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import anyio
import pytest

from baton.settings import Settings
from support.api import running_api

pytestmark = pytest.mark.anyio

MIN_REQUESTS = 1_000


async def test_schemathesis_finds_no_server_error_or_schema_break(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", workspace=tmp_path, _env_file=None)  # type: ignore[call-arg]
    st = Path(sys.executable).parent / "st"
    async with running_api(settings) as api:
        result = await _run_schemathesis(st, api.url, api.admin_key, tmp_path)
        if _tool_crashed(result):
            # schemathesis (or hypothesis under it) crashed on its own, with every generated
            # case passing (seen once: CPython's "AST constructor recursion depth mismatch"
            # while hypothesis described a lambda). That is no finding about our API: run again.
            result = await _run_schemathesis(st, api.url, api.admin_key, tmp_path)
    output = result.stdout.decode() + result.stderr.decode()
    generated = re.search(r"(\d+) generated", output)
    print(output[-1500:])  # noqa: T201  # schemathesis' summary: what was tested
    assert result.returncode == 0, output[-6000:]
    assert generated is not None, output[-3000:]
    assert int(generated.group(1)) >= MIN_REQUESTS, output[-3000:]


def _tool_crashed(result: subprocess.CompletedProcess[bytes]) -> bool:
    """Whether the run failed only by an error inside schemathesis, every case passing."""
    output = result.stdout.decode() + result.stderr.decode()
    cases = re.search(r"(\d+) generated, (\d+) passed", output)
    return (
        result.returncode != 0
        and "Runtime Error" in output
        and cases is not None
        and cases.group(1) == cases.group(2)
        and " failed" not in output.rsplit("Test cases:", 1)[-1]
    )


async def _run_schemathesis(
    st: Path, url: str, key: str, tmp_path: Path
) -> subprocess.CompletedProcess[bytes]:
    with anyio.fail_after(110):
        return await anyio.run_process(
            [
                str(st),
                "run",
                f"{url}/openapi.json",
                "-H",
                f"Authorization: Bearer {key}",
                "--checks",
                "all",
                "--exclude-checks",
                "positive_data_acceptance",
                "--exclude-path-regex",
                r"(/stream$|^/api/workspace/members/\{user_id\}$|^/api/workspace/keys/\{key_id\}$)",
                "--max-examples",
                "25",
                "--seed",
                "20261125",
                "--workers",
                "2",
                "--no-color",
                "--generation-database",
                "none",
                "--report-dir",
                str(tmp_path / "report"),
            ],
            check=False,
            cwd=tmp_path,
        )
