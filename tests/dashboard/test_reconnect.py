"""The server dies mid-execution (SIGKILL) and comes back: the page says it is reconnecting,
then shows the execution finish, with every event of its log received."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from support.dashboard import BatonServer, screenshot, sign_in

CHAIN = {
    "name": "a long chain",
    "steps": [
        {"id": "one", "agent": "t.sleep", "inputs": {"seconds": 0.3}},
        {"id": "two", "agent": "t.sleep", "inputs": {"seconds": 3}, "depends_on": ["one"]},
        {"id": "three", "agent": "t.sleep", "inputs": {"seconds": 0.5}, "depends_on": ["two"]},
        {"id": "four", "agent": "t.sleep", "inputs": {"seconds": 0.2}, "depends_on": ["three"]},
        {"id": "aside", "agent": "t.sleep", "inputs": {"seconds": 0.1}},
    ],
}


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[BatonServer]:
    """A server of this test's own: it gets killed."""
    running = BatonServer.create(tmp_path / "server")
    running.start()
    try:
        yield running
    finally:
        running.stop()


def test_the_page_reconnects_after_a_crash_and_loses_no_event(
    page: Page, own_server: BatonServer, tmp_path: Path
) -> None:
    server = own_server
    sign_in(page, server)
    execution_id = server.start_execution(CHAIN)
    page.goto(f"{server.url}/#/executions/{execution_id}")
    tree = page.get_by_test_id("execution-tree")
    expect(tree.get_by_test_id("step-node-two")).to_have_attribute("data-status", "running")

    server.kill()
    banner = page.get_by_test_id("reconnecting-banner")
    expect(banner).to_be_visible(timeout=15_000)
    screenshot(page, tmp_path, "reconnecting")

    server.start()  # takes the execution over at once: its owner is dead on this host
    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded", timeout=30_000)
    expect(banner).to_have_count(0)
    for step in CHAIN["steps"]:
        expect(tree.get_by_test_id(f"step-node-{step['id']}")).to_have_attribute(
            "data-status", "succeeded"
        )

    with server.client() as http:
        log: list[dict[str, Any]] = http.get(f"/api/orchestrate/{execution_id}/events").json()
    events: list[dict[str, Any]] = page.evaluate("() => window.__batonEvents")
    got = {
        int(e["id"])
        for e in events
        if f"/api/orchestrate/{execution_id}/stream" in e["url"] and e["id"].isdigit()
    }
    lost = [(e["seq"], e["kind"]) for e in log if e["seq"] not in got]
    assert lost == [], f"events the page never received: {lost}"
    assert server.starts == 2
    screenshot(page, tmp_path, "recovered")
