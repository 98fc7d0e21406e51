"""What an analyst (one workspace, no ``publish_policy``) sees: no way to publish or roll
back a policy, and only their own workspace in the log explorer."""

from __future__ import annotations

from typing import Any

from bench._dashboard import Dashboard, login
from tests.dashboard.browser.conftest import ANALYST_WORKSPACE, Keys, open_page


def _analyst(context: Any, dashboard: Dashboard, dash_keys: Keys) -> Any:
    page = context.new_page()
    login(page, dashboard.url, dash_keys.analyst)
    return page


def test_an_analyst_cannot_publish_or_roll_back(
    context: Any, dashboard: Dashboard, dash_keys: Keys
) -> None:
    page = _analyst(context, dashboard, dash_keys)
    state = open_page(page, dashboard.url, "policies")
    assert "may not publish policies" in state.text
    publish = page.get_by_role("button", name="Publish", exact=True)
    assert publish.count() == 1 and publish.is_disabled()
    rollback = page.get_by_role("button", name="Roll back", exact=True)
    assert rollback.count() == 1 and rollback.is_disabled()


def test_an_analyst_reads_only_their_workspace(
    context: Any, dashboard: Dashboard, dash_keys: Keys
) -> None:
    page = _analyst(context, dashboard, dash_keys)
    state = open_page(page, dashboard.url, "explorer")
    assert state.tab_rows > 0
    cells = page.locator(".tabulator-cell[tabulator-field='workspace']")
    shown = {cells.nth(i).inner_text().strip() for i in range(cells.count())}
    assert shown == {ANALYST_WORKSPACE}
    assert "analyst" in page.locator(".wb-who").inner_text()
