"""axe-core on the dashboard's main pages: no serious or critical violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from support.dashboard import BatonServer, screenshot, sign_in, wait_for_status

BLOCKING = ("serious", "critical")
GATED = {
    "steps": [
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "hi"},
            "policy": {"critical": True},
        }
    ]
}


def violations(page: Page) -> list[str]:
    """The serious and critical axe-core violations of the page as it is now."""
    response: dict[str, Any] = Axe().run(page).response
    assert response["testEngine"]["name"] == "axe-core"  # it did run
    found: list[str] = []
    for v in response["violations"]:
        if v["impact"] in BLOCKING:
            targets = [n["target"] for n in v["nodes"]][:3]
            found.append(f"{v['impact']} {v['id']}: {v['help']} at {targets}")
    return found


def test_the_main_pages_pass_axe_core(page: Page, server: BatonServer, tmp_path: Path) -> None:
    execution_id = server.start_execution(GATED)
    wait_for_status(server, execution_id, "waiting")
    problems: dict[str, list[str]] = {}

    page.goto(server.url + "/")
    expect(page.get_by_test_id("signin-form")).to_be_visible()
    problems["sign-in"] = violations(page)

    sign_in(page, server)
    pages = {
        "new": "request-input",
        "executions": "execution-list",
        f"executions/{execution_id}": "execution-tree",
        "approvals": "approval-queue",
        "logs": "log-view",
        "metrics": "metrics-page",
        "agents": "agents-page",
    }
    for route, testid in pages.items():
        page.goto(f"{server.url}/#/{route}")
        expect(page.get_by_test_id(testid)).to_be_visible()
        page.wait_for_load_state("networkidle")
        problems[route] = violations(page)
        screenshot(page, tmp_path, route.replace("/", "-"))
    bad = {route: found for route, found in problems.items() if found}
    assert bad == {}, "\n".join(f"{r}: {v}" for r, found in bad.items() for v in found)
