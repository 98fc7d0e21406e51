"""Plumbing shared by the scale-out benches (``bench/scale_out.py``, ``bench/autoscale.py``).

A fake upstream process, the gateway config that routes ``fake-upstream`` to it, the
``workbench`` CLI run against a :class:`~bench._cluster.LoopbackCluster` (``deploy`` the
documented way, ``keys create``), the Serve controller's view of the replicas
(``bench/_serve_watch.py`` in its own process), and the log check: every request a
load leg sent (warm-up included) logged exactly once, found by the request number that
``bench.loadgen`` writes into each prompt and the OpenAI ``user`` field the leg sets.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench._proc import (
    LOOPBACK,
    NO_PROXY_ENV,
    BenchError,
    free_port,
    http_get,
    json_status_is,
    python_module_argv,
    start_process,
    wait_ready,
)

ROOT = Path(__file__).resolve().parents[1]
WORKBENCH = [sys.executable, "-m", "workbench.cli"]
WATCH = [sys.executable, "-m", "bench._serve_watch", "--app", "gateway"]
UPSTREAM_KEY_ENV = "BENCH_UPSTREAM_KEY"
MODEL = "fake-upstream"
INGRESS = "Gateway"
CAVEAT = (
    "NOTE: both Ray 'nodes' are processes on this one machine and share its 2 CPU cores "
    "(with the load generator and the fake upstream): a ratio here measures the mechanics "
    "(placement, routing over both replicas, every request logged), not real scaling."
)


def cluster_env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of the nodes and the CLI: the head's home, this checkout on the
    path, offline, and the head's proxy spreading requests over every ingress replica."""
    return {
        **os.environ,
        **NO_PROXY_ENV,
        "WORKBENCH_HOME": str(home),
        "PYTHONPATH": str(ROOT),
        "HF_HUB_OFFLINE": "1",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "RAY_SERVE_PROXY_PREFER_LOCAL_NODE_ROUTING": "0",
        UPSTREAM_KEY_ENV: "dummy",
        **(extra or {}),
    }


@contextlib.contextmanager
def fake_upstream(workdir: Path, delay_ms: float) -> Iterator[int]:
    """``python -m bench.fake_upstream`` as a process; yields its port."""
    port = free_port()
    argv = python_module_argv("bench.fake_upstream", "--port", str(port))
    proc = start_process("upstream", [*argv, "--delay-ms", str(delay_ms)], log_dir=workdir)
    try:
        wait_ready(proc, f"http://{LOOPBACK}:{port}/_stats", timeout_s=60)
        yield port
    finally:
        proc.stop()


def write_gateway_config(
    workdir: Path,
    port: int,
    upstream_port: int,
    fast_proxy: bool = True,
    ack_before_response: bool | None = None,
    extra_models: list[dict[str, Any]] | None = None,
) -> Path:
    """``workdir/gw.yaml``: one remote model (the fake upstream), no ML scorer;
    ``fast_proxy`` as users run it (HAProxy, the default) unless told otherwise, and
    ``logging.ack_before_response`` (None: the default, on under ``workbench deploy``)."""
    cfg = {
        "gateway": {
            "host": LOOPBACK,
            "port": port,
            "fast_proxy": fast_proxy,
            "max_ongoing_requests": 256,
        },  # fmt: skip
        "guardrails": {"scorer": False},
        "logging": {"flush_interval_s": 0.5, "ack_before_response": ack_before_response},
        "models": [
            {
                "name": MODEL,
                "provider": "openai-compatible",
                "base_url": f"http://{LOOPBACK}:{upstream_port}/v1",
                "model": "fake-model",
                "api_key_env": UPSTREAM_KEY_ENV,
            },
            *(extra_models or []),
        ],
    }
    path = workdir / "gw.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """``workbench ARGS`` in this checkout; its stdout (a failure is a BenchError)."""
    try:
        proc = subprocess.run([*WORKBENCH, *args], env=env, capture_output=True, text=True,
                              cwd=ROOT, timeout=timeout, stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`workbench {args[0]}` did not finish in {timeout:.0f} s") from exc
    if proc.returncode != 0:
        raise BenchError(f"`workbench {' '.join(args)}`: {(proc.stderr or proc.stdout)[-1500:]}")
    return proc.stdout


def create_key(env: dict[str, str]) -> str:
    """A key made with the CLI in the head's home."""
    return str(json.loads(cli(env, "keys", "create", "--workspace", "bench", "--json"))["key"])


def deploy(env: dict[str, str], workdir: Path, *options: str) -> str:
    """``workbench deploy`` from the project ``workdir`` (config ``gw.yaml``); only the
    head runs an HTTP proxy (both nodes would bind the same loopback port)."""
    args = ["deploy", "--project", str(workdir), "--config", "gw.yaml"]
    args += ["--proxy-location", "HeadOnly", "--wait", "240", *options]
    return cli(env, *args, timeout=300)


def wait_health(base: str, timeout_s: float = 120) -> None:
    """Poll ``base/health`` until it says ready."""
    deadline = time.monotonic() + timeout_s
    last: tuple[int, bytes] = (0, b"")
    while time.monotonic() < deadline:
        last = http_get(base + "/health", timeout=5)
        if json_status_is(last[0], last[1], "status", "ready"):
            return
        time.sleep(0.5)
    raise BenchError(f"gateway not ready at {base}/health after {timeout_s:.0f} s: {last}")


def serve_snapshot(env: dict[str, str]) -> dict[str, Any]:
    """One poll of the Serve controller (``bench._serve_watch --once``)."""
    proc = subprocess.run([*WATCH, "--once"], env=env, capture_output=True, text=True,
                          cwd=ROOT, timeout=120, stdin=subprocess.DEVNULL)  # fmt: skip
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise BenchError(f"serve watch failed: {(proc.stderr or proc.stdout)[-1500:]}")
    return dict(json.loads(lines[-1])["deployments"])


def running(snap: dict[str, Any], deployment: str = INGRESS) -> list[str]:
    """Node addresses of ``deployment``'s RUNNING replicas."""
    reps = (snap.get(deployment) or {}).get("replicas") or []
    return sorted(str(ip) for state, ip in reps if state == "RUNNING")


def wait_replicas(env: dict[str, str], n: int, timeout_s: float = 180) -> dict[str, Any]:
    """Poll until the ingress has exactly ``n`` RUNNING replicas (and targets ``n``)."""
    deadline = time.monotonic() + timeout_s
    snap: dict[str, Any] = {}
    while time.monotonic() < deadline:
        snap = serve_snapshot(env)
        if len(running(snap)) == n and (snap.get(INGRESS) or {}).get("target") == n:
            return snap
        time.sleep(2.0)
    raise BenchError(f"ingress never reached {n} running replicas: {snap.get(INGRESS)}")


def placement_lines(snap: dict[str, Any], names: dict[str, str]) -> list[str]:
    """``Deployment: N replica(s) on head, worker`` for each deployment of ``snap``."""
    out = []
    for dep in sorted(snap):
        nodes = [names.get(ip, ip) for ip in running(snap, dep)]
        out.append(f"  {dep:<14} {len(nodes)} running: {', '.join(nodes) or '-'}")
    return out


class Watcher:
    """``bench._serve_watch`` polling every ``interval_s`` in its own process; the
    snapshots it printed, with their times, in :attr:`samples`."""

    def __init__(self, env: dict[str, str], interval_s: float = 1.0) -> None:
        self.samples: list[tuple[float, dict[str, Any]]] = []
        self.proc = subprocess.Popen([*WATCH, "--interval", str(interval_s)], env=env, cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                     stdin=subprocess.DEVNULL, text=True)  # fmt: skip
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("{"):
                obj = json.loads(line)
                self.samples.append((float(obj["t"]), obj["deployments"]))

    def latest(self) -> dict[str, Any]:
        return self.samples[-1][1] if self.samples else {}

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self._thread.join(timeout=5)


@dataclass
class LogCheck:
    """One leg's requests (``user`` tag) in the log."""

    tag: str
    sent: int
    logged_once: int = 0
    twice: int = 0
    missing: int = 0

    @property
    def ok(self) -> bool:
        return self.logged_once == self.sent and not self.twice


def _counts(home: Path) -> dict[str, dict[int, int]]:
    from workbench.logstore import query

    sql = (
        "select \"user\" as tag, try_cast(regexp_extract(request_body, 'Request (\\d+):', 1)"
        " as integer) as n, count(*) as c from requests where \"user\" like 'bench-%'"
        " group by all"
    )
    try:
        rows = query(sql, root=home / "logs").to_dicts()
    except Exception:  # noqa: BLE001 - no partition written yet
        return {}
    out: dict[str, dict[int, int]] = {}
    for r in rows:
        if r["n"] is not None:
            out.setdefault(str(r["tag"]), {})[int(r["n"])] = int(r["c"])
    return out


def check_logged(home: Path, sent: dict[str, int], timeout_s: float = 30) -> list[LogCheck]:
    """Wait until every leg's requests 1..N are in the log (or ``timeout_s``); per leg,
    how many were logged once, twice or more, or not at all."""
    deadline = time.monotonic() + timeout_s
    while True:
        counts = _counts(home)
        checks = []
        for tag, n in sent.items():
            seen = counts.get(tag, {})
            c = LogCheck(tag, n)
            c.logged_once = sum(1 for i in range(1, n + 1) if seen.get(i) == 1)
            c.twice = sum(1 for i in range(1, n + 1) if seen.get(i, 0) > 1)
            c.missing = sum(1 for i in range(1, n + 1) if i not in seen)
            checks.append(c)
        if all(c.ok for c in checks) or time.monotonic() > deadline:
            return checks
        time.sleep(0.5)
