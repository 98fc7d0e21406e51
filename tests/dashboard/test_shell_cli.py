"""``workbench dashboard`` as ``workbench up`` runs it: a child process that serves the
login page and stops cleanly (exit 0) on SIGTERM; the CLI's options."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from click.testing import CliRunner

from tests.conftest import free_port
from workbench.cli import main
from workbench.cli.dashboard import start_child, stop_child


def test_child_serves_and_stops_cleanly(wb_home: Path) -> None:
    port = free_port()
    log = wb_home / "dashboard.log"
    child = start_child(port, "http://127.0.0.1:9", log)
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                resp = httpx.get(f"http://127.0.0.1:{port}/login", timeout=2)
                break
            except httpx.TransportError:
                assert child.poll() is None, log.read_text()
                assert time.monotonic() < deadline, "dashboard did not start"
                time.sleep(0.3)
        assert resp.status_code == 200 and 'name="token"' in resp.text
    finally:
        stop_child(child)
    assert child.returncode == 0, log.read_text()
    text = log.read_text()
    assert f"http://127.0.0.1:{port}/live" in text and "Dashboard stopped." in text


def test_cli_options() -> None:
    out = CliRunner().invoke(main, ["dashboard", "--help"]).output
    for opt in ("--host", "--port", "--log-dir", "--gateway-url"):
        assert opt in out
    up = CliRunner().invoke(main, ["up", "--help"]).output
    assert "--dashboard-port" in up and "--no-dashboard" in up
