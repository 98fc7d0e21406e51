"""The log explorer in the browser: a filter changes the table, a click opens a request's
detail (verdicts, routing attempts, bodies)."""

from __future__ import annotations

import re
from typing import Any

from bench._page_timing import PageState, wait_until
from tests.dashboard.browser.conftest import open_page

_TOTAL = re.compile(r"([\d,]+)\+?\s*matching requests")


def _total(state: PageState) -> int:
    found = _TOTAL.search(state.text)
    assert found, f"no 'N matching requests' line in: {state.text[:400]!r}"
    return int(found.group(1).replace(",", ""))


def _column(page: Any, field: str) -> list[str]:
    cells = page.locator(
        f"#requests .tabulator-cell[tabulator-field='{field}'], "
        f".tabulator-cell[tabulator-field='{field}']"
    )
    return [cells.nth(i).inner_text().strip() for i in range(cells.count())]


def _select(page: Any, label: str, value: str) -> None:
    page.locator(".bk-input-group", has_text=label).locator("select").first.select_option(value)


def test_a_status_filter_changes_the_table(admin_page: Any, dashboard: Any) -> None:
    before = open_page(admin_page, dashboard.url, "explorer")
    total_before = _total(before)
    statuses = set(_column(admin_page, "status"))
    assert total_before > 0 and len(statuses) >= 1
    _select(admin_page, "Status", "rejected")
    _, after = wait_until(
        admin_page,
        lambda s: _TOTAL.search(s.text) is not None and _total(s) != total_before,
        quiet_ms=1000,
        timeout_s=120,
    )
    assert 0 < _total(after) < total_before
    shown = _column(admin_page, "status")
    assert shown and set(shown) == {"rejected"}, shown


def test_clicking_a_row_opens_the_request_detail(admin_page: Any, dashboard: Any) -> None:
    open_page(admin_page, dashboard.url, "explorer")
    ids = _column(admin_page, "request_id")
    assert ids, "the table shows no request ids"
    admin_page.locator(".tabulator-cell[tabulator-field='request_id']").first.click()
    _, state = wait_until(
        admin_page,
        lambda s: (
            f"Request\n{ids[0]}" in s.text or ids[0] in s.text.split("Guardrail verdicts")[0][-200:]
        ),
        quiet_ms=1000,
        timeout_s=120,
    )
    assert "Guardrail verdicts" in state.text and "Routing attempts" in state.text
    assert "Timings" in state.text and "latency" in state.text.lower()
