"""Browser tests of the dashboard: fixtures for the server, Chromium and a signed-in page.

One ``baton serve`` is shared by the tests that only add executions of their own; the test
that kills its server starts one of its own. Each test's page is a fresh browser context
(no cookies), and leaves a screenshot in the test's tmp_path (``final.png``); with
``BATON_SCREENSHOTS=docs/img`` the README's screenshots are written there too.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import Error as PlaywrightError

from support.dashboard import CHROMIUM, EVENT_RECORDER, BatonServer


# Per module, not per session: Playwright's sync API keeps its event loop set as the running
# loop of this thread while it is open, and the async tests of other folders (anyio) would
# then fail with "This event loop is already running".
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Headless Debian Chromium (never a browser Playwright downloads)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run scripts/setup as root, or install Debian's "
            "`chromium` package",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BatonServer]:
    """A ``baton serve`` shared by the tests that do not stop it."""
    running = BatonServer.create(tmp_path_factory.mktemp("baton"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(browser: Browser, tmp_path: Path) -> Iterator[Page]:
    """A page in a fresh context, recording SSE messages and status changes."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_init_script(EVENT_RECORDER)
    opened = context.new_page()
    try:
        yield opened
    finally:
        # A page that crashed cannot be shot: that must not hide the test's own failure.
        with contextlib.suppress(PlaywrightError):
            opened.screenshot(path=str(tmp_path / "final.png"), full_page=True)
        context.close()
