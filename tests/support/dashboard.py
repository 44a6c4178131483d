"""The dashboard's browser tests: a real ``baton serve`` subprocess and Debian's Chromium.

```python
server = BatonServer.create(tmp_path)     # data dir, workspace and test agents under tmp_path
server.start()                            # `python -m baton serve` on a free port
server.admin_key                          # the key it printed on its first start
server.kill(); server.start()             # SIGKILL mid-execution, then the same server again
```

The browser is Chromium from the distribution (``/usr/bin/chromium``, installed by
``scripts/setup``), driven by Playwright with ``executable_path``: Playwright's own browser
downloads are never used.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Page, expect

__all__ = [
    "CHROMIUM",
    "EVENT_RECORDER",
    "PLUGIN",
    "SCREENSHOTS_ENV",
    "BatonServer",
    "free_port",
    "screenshot",
    "sign_in",
    "wait_for_status",
]

CHROMIUM = Path("/usr/bin/chromium")
"""Debian's Chromium (package ``chromium``)."""

SCREENSHOTS_ENV = "BATON_SCREENSHOTS"
"""Set to a folder (e.g. ``docs/img``) to also save the README's screenshots there."""

KEY = re.compile(r"baton_[0-9a-f]{12}_[A-Za-z0-9_-]{43}")

PLUGIN = """
import anyio
from baton.agents import AgentContext, agent
from baton.errors import AgentError


@agent(name="t.sleep", description="Sleep a while, then answer.")
async def sleep(seconds: float) -> str:
    await anyio.sleep(seconds)
    return f"slept {seconds}"


@agent(name="t.fail", description="Always fails, retryably.")
async def fail(ctx: AgentContext, message: str = "the service is down") -> str:
    raise AgentError(f"{message} (attempt {ctx.attempt})", retryable=True)
"""
"""Test agents the server discovers in its plugins folder."""

NOTES = (
    "Baton turns requests into plans. Plans are graphs of steps. "
    "Each step is done by an agent. Agents are found by discovery.\n"
)
"""``notes.txt`` in the server's workspace, for requests that read it."""

EVENT_RECORDER = """
(() => {
  // Every SSE message the page's listeners get: when (the page's own clock, as it sets it in
  // window.__batonLastEventReceivedAt), its event id, kind, step and stream URL.
  window.__batonEvents = [];
  const Original = window.EventSource;
  class Recording extends Original {
    addEventListener(type, listener, options) {
      if (typeof listener !== "function" || type === "open" || type === "error") {
        return super.addEventListener(type, listener, options);
      }
      const url = this.url;
      const wrapped = function (ev) {
        const result = listener.call(this, ev);
        let step = null;
        try { step = JSON.parse(ev.data).step_id ?? null; } catch (e) {}
        window.__batonEvents.push({
          t: window.__batonLastEventReceivedAt ?? performance.now(),
          id: ev.lastEventId, kind: type, step, url,
        });
        return result;
      };
      return super.addEventListener(type, wrapped, options);
    }
  }
  window.EventSource = Recording;
  // Every status change of a step node, with the time the page says it applied it.
  window.__batonApplied = [];
  new MutationObserver((records) => {
    for (const r of records) {
      const el = r.target;
      const testid = el.getAttribute("data-testid") || "";
      if (!testid.startsWith("step-node-")) continue;
      window.__batonApplied.push({
        step: testid.slice("step-node-".length),
        status: el.getAttribute("data-status"),
        applied: Number(el.getAttribute("data-applied-at")),
      });
    }
  }).observe(document, { attributes: true, attributeFilter: ["data-status"], subtree: true });
})();
"""
"""An init script recording SSE messages and step status changes (latency, lost events)."""


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class BatonServer:
    """``baton serve`` in a subprocess, on a data folder of its own."""

    root: Path
    port: int
    env: dict[str, str]
    admin_key: str = ""
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @classmethod
    def create(cls, root: Path, **settings: str) -> BatonServer:
        """A server whose data, workspace and plugins live under `root` (not started)."""
        plugins = root / "plugins"
        workspace = root / "ws"
        plugins.mkdir(parents=True)
        workspace.mkdir()
        (plugins / "testagents.py").write_text(PLUGIN)
        (workspace / "notes.txt").write_text(NOTES)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env.update(
            BATON_DATA_DIR=str(root / "data"),
            BATON_WORKSPACE=str(workspace),
            BATON_PLUGINS_DIR=str(plugins),
            BATON_PORT=str(port),
            **settings,
        )
        return cls(root=root, port=port, env=env)

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def log(self) -> Path:
        """Its output, every start appended."""
        return self.root / "serve.log"

    def start(self, timeout_s: float = 60) -> None:
        """Start it and wait until it answers; read the first admin key on the first start."""
        self.starts += 1
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "baton", "serve"],
                env=self.env,
                cwd=self.root,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        with httpx.Client(base_url=self.url, timeout=5) as http:
            while True:
                with contextlib.suppress(httpx.TransportError):
                    if http.get("/api/health").status_code == 200:
                        break
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"baton serve did not start:\n{self.tail()}")
                time.sleep(0.05)
        if not self.admin_key:
            keys = KEY.findall(self.log.read_text(errors="replace"))
            if not keys:
                raise RuntimeError(f"baton serve printed no admin key:\n{self.tail()}")
            self.admin_key = keys[0]

    def kill(self) -> None:
        """SIGKILL: no shutdown, no cleanup, leases left held (a crash)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=20)

    def stop(self) -> None:
        """A clean shutdown (SIGTERM), killed if it takes too long."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 3000) -> str:
        """The end of its output."""
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def client(self, key: str | None = None) -> httpx.Client:
        """An HTTP client sending `key` (default: the admin's)."""
        token = key or self.admin_key
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )

    def start_execution(self, plan: dict[str, Any], key: str | None = None) -> str:
        """Start `plan` over the API; its execution id."""
        with self.client(key) as http:
            response = http.post("/api/orchestrate", json={"plan": plan})
            assert response.status_code == 202, response.text
            execution_id: str = response.json()["execution"]["id"]
            return execution_id

    def new_key(self, role: str) -> str:
        """A key of a new user with `role` in the first workspace."""
        with self.client() as http:
            user = http.post("/api/workspace/members", json={"name": role, "role": role})
            assert user.status_code == 201, user.text
            key = http.post(
                "/api/workspace/keys", json={"name": role, "user_id": user.json()["id"]}
            )
            assert key.status_code == 201, key.text
            token: str = key.json()["token"]
            return token


def wait_for_status(
    server: BatonServer, execution_id: str, *wanted: str, timeout_s: float = 30
) -> dict[str, Any]:
    """Poll the API until the execution has one of the `wanted` statuses."""
    deadline = time.monotonic() + timeout_s
    with server.client() as http:
        while True:
            body: dict[str, Any] = http.get(f"/api/orchestrate/{execution_id}").json()
            if body["status"] in wanted:
                return body
            assert time.monotonic() < deadline, f"still {body['status']}, not {wanted}"
            time.sleep(0.05)


def screenshot(page: Page, tmp_path: Path, name: str, *, readme: bool = False) -> Path:
    """Save a screenshot under the test's tmp_path (and, for the README's, the opt-in folder)."""
    path = tmp_path / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    folder = os.environ.get(SCREENSHOTS_ENV)
    if readme and folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"))
    return path


def sign_in(page: Page, server: BatonServer, key: str | None = None) -> None:
    """Sign in through the form, as a person would."""
    page.goto(server.url + "/")
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    page.get_by_label("API key").fill(key or server.admin_key)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_test_id("nav")).to_be_visible()
