"""One dashboard for the browser tests: a temporary WORKBENCH_HOME with generated traffic
(:mod:`workbench.synth`: nine days with an injected spike, the alerts the anomaly watcher
keeps for it, the default policy published; about a minute), an admin key and an analyst
key, ``workbench dashboard`` on a free loopback port, and one headless chromium (Debian's,
through Playwright).

The browser is package-scoped: Playwright's sync API marks its event loop as running in
the main thread while it is open, which would break the asyncio tests that run after
this package. Each test gets a fresh context (no cookies) whose every request is checked
to stay on loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bench._dashboard import (
    Dashboard,
    OffBox,
    create_key,
    launch,
    login,
    new_context,
    run_cli,
    start_dashboard,
)
from bench._page_timing import PageState, loaded_state

ROOT = Path(__file__).resolve().parents[3]
SCREENSHOTS = ROOT / "docs" / "screenshots"
SLUGS = ("live", "cost", "anomalies", "guardrails", "explorer", "policies")
ANALYST_WORKSPACE = "acme-support"


@dataclass(frozen=True)
class Keys:
    """The dashboard keys the tests log in with."""

    admin: str
    analyst: str


@pytest.fixture(scope="session")
def dash_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A WORKBENCH_HOME with nine days of generated traffic ending now (150 requests/h,
    ~32,000 rows), a 3-hour spike in one workspace 4 hours ago, the alerts one
    ``workbench anomalies watch`` evaluation keeps for it, and the default policy live."""
    from workbench import synth

    home = tmp_path_factory.mktemp("dash-home")
    now = datetime.now(UTC)
    spike = synth.Spike(now - timedelta(hours=4), hours=3, factor=8, workspace=ANALYST_WORKSPACE)
    synth.write(now - timedelta(days=9), now, root=home / "logs", rate_per_hour=150, seed=11,
                inject=[spike], progress=False)  # fmt: skip
    run_cli(home, "anomalies", "watch", "--ticks", "1")
    policy = str(ROOT / "policies" / "default.yaml")
    run_cli(home, "policy", "publish", policy, "-m", "browser tests: the default policy")
    return home


@pytest.fixture(scope="session")
def dash_keys(dash_home: Path) -> Keys:
    """An admin key (every workspace) and an analyst key (one workspace, no publish)."""
    return Keys(
        admin=create_key(dash_home, "ops", "admin", name="browser-admin"),
        analyst=create_key(dash_home, ANALYST_WORKSPACE, "analyst", name="browser-analyst"),
    )


@pytest.fixture(scope="session")
def dashboard(
    dash_home: Path, dash_keys: Keys, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """``workbench dashboard`` on the generated traffic, for the whole session."""
    run_dir = tmp_path_factory.mktemp("dash-run")
    dash = start_dashboard(dash_home, dash_home / "logs", run_dir=run_dir, timeout_s=300)
    try:
        yield dash
    finally:
        dash.stop()


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """One headless chromium for the browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = launch(pw)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def offbox() -> OffBox:
    """Every URL the test's browser context requested that leaves 127.0.0.1."""
    return OffBox()


@pytest.fixture
def context(browser: Any, offbox: OffBox) -> Iterator[Any]:
    """A fresh browser context (no cookies, 1400x900); fails the test on off-box requests."""
    ctx = new_context(browser, offbox)
    ctx.set_default_timeout(90_000)
    try:
        yield ctx
    finally:
        ctx.close()
    assert offbox.urls == [], f"requests left the machine: {offbox.urls[:5]}"


@pytest.fixture
def admin_page(context: Any, dashboard: Dashboard, dash_keys: Keys) -> Any:
    """A page logged in with the admin key."""
    page = context.new_page()
    login(page, dashboard.url, dash_keys.admin)
    return page


def open_page(page: Any, base_url: str, slug: str) -> PageState:
    """Navigate to ``/slug`` and wait until it shows its data, with no spinner and no
    update for 1.5 s (a page that never shows data fails here, after 5 minutes)."""
    page.goto(f"{base_url}/{slug}")
    return loaded_state(page, slug, quiet_ms=1500, timeout_s=300)
