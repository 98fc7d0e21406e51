"""Logging in: a wrong key is refused at the form, a dashboard key gets in, pages need it."""

from __future__ import annotations

from typing import Any

from bench._dashboard import Dashboard, login
from tests.dashboard.browser.conftest import Keys


def test_pages_redirect_to_the_login_form_without_a_cookie(
    context: Any, dashboard: Dashboard
) -> None:
    page = context.new_page()
    page.goto(dashboard.url + "/cost")
    assert "/login" in page.url
    assert page.locator("input[name='token']").count() == 1


def test_a_wrong_key_is_refused(context: Any, dashboard: Dashboard) -> None:
    page = context.new_page()
    page.goto(dashboard.url + "/login")
    page.locator("input[name='token']").fill("wb-not-a-real-key-0000000000")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Log in").click()
    assert posted.value.status == 401
    assert "/login" in page.url
    assert "Log-in failed" in page.get_by_role("alert").inner_text()
    page.goto(dashboard.url + "/live")
    assert "/login" in page.url  # still no session


def test_an_admin_key_logs_in_and_sees_every_page(
    context: Any, dashboard: Dashboard, dash_keys: Keys
) -> None:
    page = context.new_page()
    login(page, dashboard.url, dash_keys.admin)
    assert page.url.rstrip("/").endswith("/live")
    nav = page.locator(".wb-nav a")
    nav.first.wait_for(state="attached")  # the sidebar may be collapsed
    hrefs = {nav.nth(i).get_attribute("href") for i in range(nav.count())}
    assert hrefs == {
        f"/{s}" for s in ("live", "cost", "anomalies", "guardrails", "explorer", "policies")
    }
    assert "admin" in page.locator(".wb-who").inner_text()
