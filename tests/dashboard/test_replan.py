"""A replan and a cached step, as the dashboard shows them while the execution runs."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Locator, Page, expect

from support.dashboard import BatonServer, screenshot, sign_in, wait_for_status
from support.fake_llm import fake_llm_in_thread, value

WAIT = {"id": "wait", "agent": "t.sleep", "inputs": {"seconds": 2}}
READ = {"id": "read", "agent": "files.read", "inputs": {"path": "notes.txt"}}
SHOUT = {
    "id": "shout",
    "agent": "text.transform",
    "inputs": {"text": "${read.content}", "operation": "upper"},
    "depends_on": ["read"],
}
FAILING = {
    "name": "read a file that is not there",
    "steps": [
        WAIT,
        {
            "id": "missing",
            "agent": "files.read",
            "inputs": {"path": "no-such-file.txt"},
            "depends_on": ["wait"],
        },
    ],
}
REVISED = {"name": "read the notes instead", "steps": [WAIT, READ, SHOUT]}


def node_of(page: Page, step_id: str) -> Locator:
    return page.get_by_test_id("execution-tree").get_by_test_id(f"step-node-{step_id}")


def test_a_replan_redraws_the_tree_live_and_a_cached_step_says_so(
    page: Page, tmp_path: Path
) -> None:
    with fake_llm_in_thread(value(REVISED)) as fake:
        server = BatonServer.create(
            tmp_path / "baton",
            BATON_LLM_PROVIDER="gemini",
            BATON_LLM_BASE_URL=fake.base_url("gemini"),
            BATON_LLM_MAX_RETRIES="0",
            GEMINI_API_KEY="test-key-not-real",
        )
        server.start()
        try:
            sign_in(page, server)
            execution_id = server.start_execution(FAILING)
            page.goto(f"{server.url}/#/executions/{execution_id}")
            # Open before the step fails: what follows arrives over the stream.
            expect(node_of(page, "missing")).to_be_visible()
            expect(node_of(page, "wait")).to_have_attribute("data-status", "running")

            expect(page.get_by_test_id("execution-status")).to_have_text("succeeded")
            expect(page.get_by_test_id("plan-version")).to_contain_text("version 2")
            expect(page.get_by_test_id("plan-version")).to_contain_text("missing")
            expect(node_of(page, "missing")).to_have_count(0)
            for step_id in ("wait", "read", "shout"):
                expect(node_of(page, step_id)).to_have_attribute("data-status", "succeeded")
            kinds = page.evaluate("() => window.__batonEvents.map((e) => e.kind)")
            assert "plan_revised" in kinds, kinds
            screenshot(page, tmp_path, "replanned")

            # The same transform of the same text again: its output comes from the cache.
            again = server.start_execution({"name": "again", "steps": [READ, SHOUT]})
            wait_for_status(server, again, "succeeded")
            page.goto(f"{server.url}/#/executions/{again}/steps/shout")
            expect(page.get_by_test_id("step-detail")).to_be_visible()
            expect(page.get_by_test_id("step-cached")).to_contain_text("result cache")
            page.goto(f"{server.url}/#/executions/{again}/steps/read")
            expect(page.get_by_test_id("step-detail")).to_be_visible()
            expect(page.get_by_test_id("step-cached")).to_have_count(0)
        finally:
            server.stop()
