"""``workbench dashboard``: serve the Panel dashboard (every page; a dashboard key logs in)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import click

from workbench.cli._common import LOG_DIR_OPTION


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@LOG_DIR_OPTION
@click.option(
    "--gateway-url",
    default=None,
    help="The running gateway's base URL (pages that talk to it, e.g. policy publish).",
)
def dashboard(host: str, port: int, log_dir: Path | None, gateway_url: str | None) -> None:
    """Serve the dashboard until Ctrl-C or SIGTERM.

    Log in with a key of role admin, policy-author or analyst
    (`workbench keys create -w WORKSPACE --role admin`); app keys cannot log in.
    """
    from workbench.dashboard import DashboardSettings, serve

    settings = DashboardSettings(host, port, log_dir, None, gateway_url)

    def ready(url: str) -> None:
        click.echo(f"Dashboard: {url} (log in with a dashboard key; Ctrl-C stops it)", err=True)

    serve(settings, on_ready=ready)
    click.echo("Dashboard stopped.", err=True)


def start_child(port: int, gateway_url: str | None, logfile: Path) -> subprocess.Popen[bytes]:
    """Start ``workbench dashboard`` next to the gateway (``workbench up``); its output
    goes to ``logfile``. It runs at a lower CPU priority (nice 5) than the gateway and, on
    Linux, is told to stop if its parent dies."""
    import sys

    args = [sys.executable, "-m", "workbench.cli", "dashboard", "--port", str(port)]
    if gateway_url:
        args += ["--gateway-url", gateway_url]
    with open(logfile, "ab") as out:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            preexec_fn=_child_setup,
        )


def _child_setup() -> None:  # pragma: no cover - runs in the child
    """Yield the CPU to the gateway (Ray starts at the same time); stop with the parent."""
    import ctypes
    import os
    import signal
    import sys

    os.nice(5)
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def stop_child(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    """Stop the dashboard child (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


__all__ = ["dashboard", "start_child", "stop_child"]
