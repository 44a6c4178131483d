"""A 200-step execution tree: it renders, stays responsive, and applies each status change
within 100 ms of the SSE message that carried it (measured in the browser)."""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from support.dashboard import BatonServer, screenshot, sign_in

STEPS = 200
CHAINS = 20
BUDGET_MS = 100.0
"""The issue's bound: a status change is on screen this soon after its event arrives."""


def wide_plan() -> dict[str, Any]:
    """A root step, then 20 chains of steps after it (200 steps in all)."""
    steps: list[dict[str, Any]] = [{"id": "root", "agent": "t.sleep", "inputs": {"seconds": 1.5}}]
    per_chain = (STEPS - 1 + CHAINS - 1) // CHAINS
    for chain in range(CHAINS):
        previous = "root"
        for depth in range(per_chain):
            if len(steps) == STEPS:
                break
            step_id = f"c{chain:02d}d{depth:02d}"
            # Different lengths per chain, so the events are spread out, not in lockstep.
            seconds = 0.02 + 0.01 * (chain % 5)
            steps.append(
                {
                    "id": step_id,
                    "agent": "t.sleep",
                    "inputs": {"seconds": seconds},
                    "depends_on": [previous],
                }
            )
            previous = step_id
    return {"name": "two hundred steps", "steps": steps}


def latencies_ms(page: Page, execution_id: str, since: float) -> list[float]:
    """For each status change applied after `since`: applied-at minus the time the latest SSE
    message about that step had arrived (both on the page's performance.now() clock)."""
    events: list[dict[str, Any]] = page.evaluate("() => window.__batonEvents")
    applied: list[dict[str, Any]] = page.evaluate("() => window.__batonApplied")
    by_step: dict[str, list[float]] = {}
    for e in events:
        if e["step"] and f"/api/orchestrate/{execution_id}/stream" in e["url"]:
            by_step.setdefault(e["step"], []).append(e["t"])
    found: list[float] = []
    for change in applied:
        if change["applied"] <= since:
            continue
        before = [t for t in by_step.get(change["step"], []) if t <= change["applied"]]
        if before:
            found.append(change["applied"] - max(before))
    return found


def test_a_200_step_tree_renders_and_applies_changes_within_100_ms(
    page: Page, server: BatonServer, tmp_path: Path
) -> None:
    plan = wide_plan()
    assert len(plan["steps"]) == STEPS
    sign_in(page, server)
    execution_id = server.start_execution(plan)
    started = time.perf_counter()
    page.goto(f"{server.url}/#/executions/{execution_id}")
    nodes = page.get_by_test_id("execution-tree").locator("[data-testid^=step-node-]")
    expect(nodes).to_have_count(STEPS)
    rendered_s = time.perf_counter() - started
    # Still running: a click on a step answers at once.
    click = time.perf_counter()
    page.get_by_test_id("step-node-root").click()
    expect(page.get_by_test_id("step-detail")).to_be_visible()
    click_s = time.perf_counter() - click
    since: float = page.evaluate("() => performance.now()")

    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded", timeout=60_000)
    expect(page.locator("[data-testid^=step-node-][data-status=succeeded]")).to_have_count(STEPS)
    measured = sorted(latencies_ms(page, execution_id, since))
    screenshot(page, tmp_path, "tree-200")

    assert len(measured) >= STEPS, f"only {len(measured)} status changes were measured"
    p50 = statistics.median(measured)
    p95 = measured[int(0.95 * (len(measured) - 1))]
    print(  # noqa: T201  # the figures are what this test reports
        f"\n200-step tree: rendered in {rendered_s * 1000:.0f} ms, a step opened in "
        f"{click_s * 1000:.0f} ms; {len(measured)} status changes applied after their SSE "
        f"event in p50 {p50:.1f} ms, p95 {p95:.1f} ms, max {measured[-1]:.1f} ms"
    )
    assert measured[-1] <= BUDGET_MS, f"slowest change took {measured[-1]:.1f} ms"
