"""``workbench up`` / ``down`` / ``status``: run the gateway on embedded defaults.

``up`` starts Ray in-process, deploys the Serve application and blocks until
Ctrl-C/SIGTERM (or, with ``--detach``, runs itself in the background and returns once
the gateway is ready); it then stops gracefully (:mod:`workbench.cli._embedded`).
State (pid, port, grace period, log file) lives under ``$WORKBENCH_HOME``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from workbench.home import home

EXIT_NOT_RUNNING = 3
DEFAULT_GRACE_S = 20.0
# `down` waits this long past the grace period for Serve and Ray to stop.
SHUTDOWN_MARGIN_S = 120.0


def _read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads((home() / "gateway.json").read_text())
        return state
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:  # a zombie (exited, not yet reaped by its parent) is not running
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def _health(host: str, port: int, timeout: float = 2.0) -> dict[str, Any] | None:
    """The gateway's /health answer (a 503 while draining or unready is still one)."""
    url = f"http://{host}:{port}/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except urllib.error.HTTPError as err:
        try:
            answer: dict[str, Any] = json.loads(err.read())
            return answer
        except ValueError:
            return None
    except (OSError, ValueError):
        return None


@click.command()
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Gateway config YAML (default: the embedded defaults).",
)
@click.option("--host", default=None, help="Bind address (overrides the config).")
@click.option("--port", type=int, default=None, help="Port (overrides the config).")
@click.option(
    "--grace",
    "grace_s",
    type=click.FloatRange(min=0),
    default=DEFAULT_GRACE_S,
    show_default=True,
    help="On stop: seconds requests in flight get to finish before they are cut.",
)
@click.option("--detach", is_flag=True, help="Run in the background; return when ready.")
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=600.0,
    show_default=True,
    help="With --detach: how long to wait for readiness.",
)
@click.option(
    "--dashboard-port",
    type=click.IntRange(1, 65535),
    default=8501,
    show_default=True,
    help="Port of the dashboard started next to the gateway (127.0.0.1).",
)
@click.option("--no-dashboard", is_flag=True, help="Do not start the dashboard.")
def up(
    config_path: str | None,
    host: str | None,
    port: int | None,
    grace_s: float,
    detach: bool,
    wait_s: float,
    dashboard_port: int,
    no_dashboard: bool,
) -> None:
    """Start the gateway (Ray in-process, logs under $WORKBENCH_HOME).

    SIGTERM or Ctrl-C stops it gracefully: new requests get 503, requests in flight get
    --grace seconds to finish, the request log is flushed, and the process exits 0."""
    state = _read_state()
    if state and _alive(int(state["pid"])):
        raise click.ClickException(
            f"a gateway is already running (pid {state['pid']}, port {state['port']}); "
            "`workbench down` stops it"
        )
    if config_path:
        config_path = str(Path(config_path).resolve())
    dash_port = None if no_dashboard else dashboard_port
    if not detach:
        sys.exit(_run_with_dashboard(config_path, host, port, grace_s, dash_port))
    _detach(config_path, host, port, grace_s, wait_s, dash_port)


def _run_with_dashboard(
    config_path: str | None, host: str | None, port: int | None, grace_s: float, dash: int | None
) -> int:
    """Run the gateway; with ``dash``, the dashboard as a child process stopped with it."""
    from workbench.cli._embedded import run_gateway

    if dash is None:
        return run_gateway(config_path, host, port, grace_s)
    from workbench.cli.dashboard import start_child, stop_child
    from workbench.config.gateway import load_config

    cfg = load_config(config_path)
    h = host or cfg.gateway.host
    h = "127.0.0.1" if h in ("0.0.0.0", "::", "") else h
    child = start_child(dash, f"http://{h}:{port or cfg.gateway.port}", home() / "dashboard.log")
    click.echo(f"dashboard: http://127.0.0.1:{dash}/live (log {home() / 'dashboard.log'})")
    try:
        return run_gateway(config_path, host, port, grace_s)
    finally:
        stop_child(child)


def _detach(
    config_path: str | None,
    host: str | None,
    port: int | None,
    grace_s: float,
    wait_s: float,
    dash: int | None = None,
) -> None:
    from workbench.config.gateway import load_config

    cfg = load_config(config_path)  # fail fast, in the foreground, on a bad config
    logfile = home() / "gateway.log"
    args = [sys.executable, "-m", "workbench.cli", "up", "--grace", str(grace_s)]
    args += ["--no-dashboard"] if dash is None else ["--dashboard-port", str(dash)]
    if config_path:
        args += ["--config", config_path]
    if host:
        args += ["--host", host]
    if port:
        args += ["--port", str(port)]
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    h, p = host or cfg.gateway.host, port or cfg.gateway.port
    h = "127.0.0.1" if h in ("0.0.0.0", "::", "") else h
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the gateway exited with {proc.returncode}; see {logfile}")
        state = _read_state()
        ours = bool(state and state.get("pid") == proc.pid and state.get("status") == "ready")
        info = _health(h, p) if ours else None
        if info and info.get("status") == "ready":
            click.echo(f"gateway ready at http://{h}:{p}/v1 (pid {proc.pid}, log {logfile})")
            if dash is not None:
                click.echo(f"dashboard: http://127.0.0.1:{dash}/live (log in with a dashboard key)")
            return
        time.sleep(1.0)
    raise click.ClickException(f"the gateway was not ready after {wait_s:.0f}s; see {logfile}")


@click.command()
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait before killing it (default: its grace period + "
    f"{SHUTDOWN_MARGIN_S:.0f}s).",
)
def down(timeout: float | None) -> None:
    """Stop the gateway gracefully (as SIGTERM does): requests in flight finish first."""
    state = _read_state()
    if not state or not _alive(int(state["pid"])):
        click.echo("no gateway is running")
        return
    pid = int(state["pid"])
    if timeout is None:
        timeout = float(state.get("grace_s", DEFAULT_GRACE_S)) + SHUTDOWN_MARGIN_S
    os.kill(pid, signal.SIGTERM)
    click.echo(f"stopping the gateway (pid {pid}): draining requests in flight...")
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid):
        time.sleep(0.3)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        raise click.ClickException(f"gateway (pid {pid}) did not stop in {timeout:.0f}s; killed")
    click.echo(f"gateway (pid {pid}) stopped")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the state as one JSON object.")
def status(as_json: bool) -> None:
    """Is the gateway running, and is it ready? Exit code 3 when it is not running."""
    state = _read_state()
    running = bool(state and _alive(int(state["pid"])))
    info = _health(state["host"], int(state["port"])) if running and state else None
    if as_json:
        click.echo(json.dumps({**(state or {}), "running": running, "health": info}))
    elif running and state:
        click.echo(
            f"gateway: {state.get('status', 'running')} (pid {state['pid']}) at "
            f"http://{state['host']}:{state['port']}"
        )
        click.echo(f"health: {json.dumps(info) if info else 'not answering'}")
    else:
        click.echo("gateway: not running")
    if not running:
        sys.exit(EXIT_NOT_RUNNING)
