"""Each of the six pages loads with data from generated traffic, every request stays on
loopback (no CDN), and the run writes a full-page screenshot of each page
(``docs/screenshots/<slug>.png``, 1400x900 viewport) for the README."""

from __future__ import annotations

from typing import Any

import pytest

from bench._dashboard import OffBox
from bench._page_timing import page_ready
from tests.dashboard.browser.conftest import SCREENSHOTS, SLUGS, open_page

# Text each page shows only once its data is there (numbers, not just headings).
_MIN_TEXT = 200


@pytest.mark.parametrize("slug", SLUGS)
def test_page_loads_with_data(slug: str, admin_page: Any, dashboard: Any, offbox: OffBox) -> None:
    state = open_page(admin_page, dashboard.url, slug)
    assert state.loading == 0
    assert page_ready(slug)(state) and state.has_data, (
        f"/{slug}: no chart or table with rows "
        f"(sources {state.sources}, table rows {state.tab_rows}); text: {state.text[:300]!r}"
    )
    assert len(state.text) > _MIN_TEXT
    assert "Traceback" not in state.text and "Error" not in state.text.split("\n")[:3]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    admin_page.screenshot(
        path=str(SCREENSHOTS / f"{slug}.png"), full_page=True, animations="disabled",
        timeout=240_000,
    )  # fmt: skip
    assert offbox.seen > 10  # the watcher saw the page's own requests
    assert offbox.urls == [], f"/{slug} requested off-box URLs: {offbox.urls[:5]}"
