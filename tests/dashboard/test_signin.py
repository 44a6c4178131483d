"""Signing in to the dashboard: the form, the session cookie, a wrong key, signing out."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from support.dashboard import BatonServer, screenshot, sign_in


def test_sign_in_with_the_printed_admin_key(
    page: Page, server: BatonServer, tmp_path: Path
) -> None:
    sign_in(page, server)
    expect(page.get_by_test_id("role")).to_have_text("admin")
    cookies = {c.get("name"): c for c in page.context.cookies()}
    session = cookies["baton_session"]
    assert session.get("httpOnly") is True
    assert session.get("sameSite") == "Strict"
    assert cookies["baton_csrf"].get("httpOnly") is False
    # The key itself is kept nowhere the page's scripts can read.
    stored = page.evaluate("() => JSON.stringify({...localStorage, ...sessionStorage})")
    assert server.admin_key not in stored
    assert server.admin_key not in page.evaluate("() => document.cookie")
    # A reload stays signed in: the cookie, not the page's memory, holds the session.
    page.reload()
    expect(page.get_by_test_id("nav")).to_be_visible()
    screenshot(page, tmp_path, "signed-in")


def test_a_wrong_key_is_refused_on_the_form(page: Page, server: BatonServer) -> None:
    page.goto(server.url + "/")
    page.get_by_label("API key").fill("baton_000000000000_" + "x" * 43)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    expect(page.get_by_test_id("nav")).to_have_count(0)
    assert "baton_session" not in {c.get("name") for c in page.context.cookies()}
