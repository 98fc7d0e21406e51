"""The real dashboard (``workbench dashboard``) in a subprocess, driven by headless chromium.

Shared by the browser tests (``tests/dashboard/browser``) and the scale bench
(:mod:`bench.dashboard_scale`):

- :func:`create_key` makes a dashboard key with the CLI (``workbench keys create --role``);
- :func:`start_dashboard` starts ``workbench dashboard --port P --log-dir DIR`` in its own
  session and waits until ``/login`` answers;
- :func:`launch` starts Debian's chromium through Playwright (Playwright cannot download
  its own browser here); :func:`login` logs a page in with a key;
- :func:`new_context` installs :data:`bench._page_timing.TIMING_JS`, which the timing
  helpers in :mod:`bench._page_timing` read;
- :class:`OffBox` records every request that does not go to a loopback address.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench._page_timing import TIMING_JS
from bench._proc import (
    NO_PROXY_ENV,
    Proc,
    free_port,
    python_module_argv,
    start_process,
    wait_ready,
)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1400, "height": 900}
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def cli_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a ``workbench`` subprocess on ``home`` (loopback, no proxy)."""
    import os

    root = Path(__file__).resolve().parents[1]
    return {
        **os.environ,
        **NO_PROXY_ENV,
        "WORKBENCH_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(root),
        **(extra or {}),
    }


def create_key(home: Path, workspace: str, role: str, name: str | None = None) -> str:
    """A new key of ``role`` in ``workspace`` (the full key, as the CLI prints it once)."""
    argv = python_module_argv(
        "workbench.cli", "keys", "create", "--workspace", workspace, "--role", role, "--json"
    )
    if name:
        argv += ["--name", name]
    out = subprocess.run(argv, env=cli_env(home), capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        raise RuntimeError(f"keys create failed: {out.stderr}")
    return str(json.loads(out.stdout)["key"])


@dataclass
class Dashboard:
    """A running ``workbench dashboard``."""

    url: str
    proc: Proc
    home: Path
    log_dir: Path

    def stop(self) -> None:
        """End the server and its whole process tree."""
        self.proc.stop()


def start_dashboard(
    home: Path,
    log_dir: Path,
    *,
    run_dir: Path,
    port: int | None = None,
    timeout_s: float = 180.0,
    env: dict[str, str] | None = None,
    nice: int = 0,
    extra_args: tuple[str, ...] = (),
) -> Dashboard:
    """Start ``workbench dashboard`` on ``home``/``log_dir``; wait for ``/login`` (200)."""
    port = port or free_port()
    argv = python_module_argv(
        "workbench.cli", "dashboard", "--port", str(port), "--log-dir", str(log_dir), *extra_args
    )
    if nice:
        argv = ["nice", "-n", str(nice), *argv]
    proc = start_process("dashboard", argv, log_dir=run_dir, env=cli_env(home, env))
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(proc, url + "/login", timeout_s=timeout_s)
    except BaseException:
        proc.stop()
        raise
    return Dashboard(url, proc, home, log_dir)


def launch(playwright: Any) -> Any:
    """Debian's chromium, headless, with no background traffic of its own."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


@dataclass
class OffBox:
    """Every URL a browser context asked for that is not on a loopback address."""

    urls: list[str] = field(default_factory=list)
    seen: int = 0

    def note(self, url: str) -> None:
        """Record ``url`` (kept only when it leaves the machine)."""
        self.seen += 1
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return
        if (parts.hostname or "") not in LOOPBACK_HOSTS:
            self.urls.append(url)


def new_context(browser: Any, offbox: OffBox | None = None) -> Any:
    """A fresh context (no cookies) at 1400x900, timing script installed, URLs watched."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.add_init_script(TIMING_JS)
    if offbox is not None:
        ctx.on("request", lambda req: offbox.note(req.url))
        ctx.on("page", lambda pg: pg.on("websocket", lambda ws: offbox.note(ws.url)))
    return ctx


def login(page: Any, base_url: str, key: str, timeout_ms: float = 60_000) -> None:
    """Log ``page`` in with ``key`` through the login form; wait to leave ``/login``."""
    page.goto(base_url + "/login", timeout=timeout_ms)
    page.locator("input[name='token']").fill(key)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda u: "/login" not in u, timeout=timeout_ms)


def run_cli(home: Path, *args: str, timeout: float = 300.0) -> str:
    """``workbench ARGS`` on ``home``; stdout (raises with stderr on failure)."""
    out = subprocess.run(
        python_module_argv("workbench.cli", *args),
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if out.returncode != 0:
        raise RuntimeError(f"workbench {' '.join(args)} failed ({out.returncode}): {out.stderr}")
    return out.stdout


__all__ = [
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "VIEWPORT",
    "Dashboard",
    "OffBox",
    "create_key",
    "launch",
    "login",
    "new_context",
    "run_cli",
    "start_dashboard",
]
