"""Running, approving and failing executions, watched in the browser as they happen."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from support.dashboard import BatonServer, screenshot, sign_in, wait_for_status

GATED = {
    "name": "send the draft",
    "steps": [
        {
            "id": "draft",
            "agent": "text.transform",
            "inputs": {"text": "hi dana", "operation": "upper"},
        },
        {
            "id": "send",
            "agent": "notify.send",
            "inputs": {"to": "dana@example.com", "message": "${draft.text}"},
            "depends_on": ["draft"],
            "policy": {"critical": True},
        },
    ],
}
FAST_RETRY = {"retry": {"max_attempts": 3, "initial_delay_s": 0.05, "jitter": 0}}
FAILING = {
    "name": "a failing service",
    "steps": [
        {"id": "fetch", "agent": "t.fail", "inputs": {}, "policy": FAST_RETRY},
        {"id": "parse", "agent": "t.sleep", "inputs": {"seconds": 0}, "depends_on": ["fetch"]},
        {"id": "report", "agent": "t.sleep", "inputs": {"seconds": 0}, "depends_on": ["parse"]},
        {"id": "side", "agent": "t.sleep", "inputs": {"seconds": 0.2}},
    ],
}


def node(page: Page, step_id: str) -> Any:
    return page.get_by_test_id("execution-tree").get_by_test_id(f"step-node-{step_id}")


def open_execution(page: Page, server: BatonServer, execution_id: str) -> None:
    page.goto(f"{server.url}/#/executions/{execution_id}")
    expect(page.get_by_test_id("execution-tree")).to_be_visible()


def received(page: Page, execution_id: str) -> list[dict[str, Any]]:
    """The SSE messages of the execution's stream the page received."""
    events: list[dict[str, Any]] = page.evaluate("() => window.__batonEvents")
    return [e for e in events if f"/api/orchestrate/{execution_id}/stream" in e["url"]]


def test_a_request_is_planned_run_and_every_step_turns_green(
    page: Page, server: BatonServer, tmp_path: Path
) -> None:
    sign_in(page, server)
    page.get_by_role("link", name="New request").click()
    page.get_by_test_id("request-input").fill("summarize notes.txt then uppercase the summary")
    page.get_by_test_id("plan-button").click()
    graph = page.get_by_test_id("plan-graph")
    expect(graph.locator("[data-testid^=step-node-]")).to_have_count(3)
    expect(page.get_by_test_id("critical-path")).not_to_have_text("—")
    screenshot(page, tmp_path, "plan")
    page.get_by_test_id("run-button").click()
    page.wait_for_url("**/#/executions/ex_*")
    execution_id = page.url.rsplit("/", 1)[-1]
    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded")
    nodes = page.get_by_test_id("execution-tree").locator("[data-testid^=step-node-]")
    expect(nodes).to_have_count(3)
    for i in range(3):
        expect(nodes.nth(i)).to_have_attribute("data-status", "succeeded")
    # Live, over the stream: a step_succeeded message reached the page for every step.
    done = {e["step"] for e in received(page, execution_id) if e["kind"] == "step_succeeded"}
    assert done == {"read", "summarize", "transform"}, done
    screenshot(page, tmp_path, "execution-tree", readme=True)


def test_a_planned_chain_is_laid_out_left_to_right(page: Page, server: BatonServer) -> None:
    # The planner chains steps by references (`${read.content}`), not `depends_on`: the
    # graph must draw those edges too, so each step stands right of the one it reads.
    sign_in(page, server)
    page.get_by_role("link", name="New request").click()
    page.get_by_test_id("request-input").fill("summarize notes.txt then uppercase the summary")
    page.get_by_test_id("plan-button").click()
    graph = page.get_by_test_id("plan-graph")
    xs: list[float] = []
    for step_id in ("read", "summarize", "transform"):
        box = graph.get_by_test_id(f"step-node-{step_id}").bounding_box()
        assert box is not None
        xs.append(box["x"])
    assert xs[0] < xs[1] < xs[2], f"steps not left to right: x = {xs}"


def test_a_gated_step_is_approved_from_the_queue(
    page: Page, server: BatonServer, tmp_path: Path
) -> None:
    execution_id = server.start_execution(GATED)
    wait_for_status(server, execution_id, "waiting")
    with server.client() as http:
        pending = http.get("/api/approvals").json()
    approval_id = next(a["id"] for a in pending if a["execution_id"] == execution_id)
    sign_in(page, server)
    page.get_by_role("link", name="Approvals").click()
    card = page.get_by_test_id(f"approval-{approval_id}")
    expect(card).to_be_visible()
    expect(card.get_by_test_id("approval-reversible")).to_be_visible()
    screenshot(page, tmp_path, "approval-queue", readme=True)
    card.get_by_test_id("approve-button").click()
    expect(card).to_have_count(0)
    wait_for_status(server, execution_id, "succeeded")
    open_execution(page, server, execution_id)
    expect(page.get_by_test_id("execution-status")).to_have_text("succeeded")
    expect(node(page, "send")).to_have_attribute("data-status", "succeeded")


def test_a_failure_shows_its_retries_and_the_skipped_dependents(
    page: Page, server: BatonServer, tmp_path: Path
) -> None:
    sign_in(page, server)
    execution_id = server.start_execution(FAILING)
    open_execution(page, server, execution_id)
    expect(page.get_by_test_id("execution-status")).to_have_text("failed")
    expect(node(page, "fetch")).to_have_attribute("data-status", "failed")
    expect(node(page, "fetch")).to_contain_text("2 retries")
    for dependent in ("parse", "report"):
        expect(node(page, dependent)).to_have_attribute("data-status", "skipped")
    expect(node(page, "side")).to_have_attribute("data-status", "succeeded")
    node(page, "fetch").click()
    detail = page.get_by_test_id("step-detail")
    expect(detail).to_be_visible()
    expect(detail.get_by_test_id("step-error")).to_contain_text("the service is down")
    expect(detail.get_by_test_id("step-retries").locator("li")).to_have_count(2)
    screenshot(page, tmp_path, "failure")


def test_a_viewer_sees_no_button_that_would_act(
    page: Page, server: BatonServer, tmp_path: Path
) -> None:
    execution_id = server.start_execution(GATED)
    wait_for_status(server, execution_id, "waiting")
    with server.client() as http:
        pending = http.get("/api/approvals").json()
    approval_id = next(a["id"] for a in pending if a["execution_id"] == execution_id)
    sign_in(page, server, server.new_key("viewer"))
    expect(page.get_by_test_id("role")).to_have_text("viewer")
    nav = page.get_by_test_id("nav")
    expect(nav.get_by_role("link", name="New request")).to_have_count(0)
    nav.get_by_role("link", name="Approvals").click()
    card = page.get_by_test_id(f"approval-{approval_id}")
    expect(card).to_be_visible()
    for button in ("approve-button", "reject-button", "reject-reason"):
        expect(card.get_by_test_id(button)).to_have_count(0)
    open_execution(page, server, execution_id)
    expect(page.get_by_test_id("execution-status")).to_have_text("waiting")
    expect(page.get_by_test_id("cancel-button")).to_have_count(0)
    expect(page.get_by_test_id("resume-button")).to_have_count(0)
    screenshot(page, tmp_path, "viewer")
