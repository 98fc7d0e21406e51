"""A Ray cluster of ``ray start`` processes on loopback, with token auth.

The head runs on 127.0.0.2 and advertises the ``workbench_head`` resource (as
``ray_cluster.yaml``'s head does); each worker joins on 127.0.0.3, 127.0.0.4, ...
Every node is a ``ray start --block`` process in its own session, so stopping a node
(or killing it mid-load) is a signal to every process of that session. Shared by
``tests/serve/test_cluster_e2e.py`` and the scale-out benches (``bench/scale_out.py``,
``bench/autoscale.py``). Callers hold ``flock /tmp/ray.lock``.

Loopback notes: Ray rewrites ``--node-ip-address=127.0.0.1`` to the machine's routable
address when ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` is on (multi-node needs it on), so the
nodes use 127.0.0.2 and up; a head with token auth needs ``RAY_AUTH_MODE=token`` (and the
token) on every joining node.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RAY = str(Path(sys.executable).with_name("ray"))
ADDRESS_FILE = Path(tempfile.gettempdir()) / "ray" / "ray_current_cluster"

__all__ = ["ADDRESS_FILE", "RAY", "LoopbackCluster", "free_port", "kill_session", "session_pids"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def session_pids(sid: int) -> list[int]:
    """Every process of session ``sid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getsid(int(entry)) == sid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def kill_session(sid: int, grace_s: float = 0.0) -> None:
    """SIGTERM (when ``grace_s``) then SIGKILL every process of session ``sid``."""
    if grace_s:
        for pid in session_pids(sid):
            try:
                os.kill(pid, signal.SIGTERM)
            except OSError:
                pass
        deadline = time.time() + grace_s
        while session_pids(sid) and time.time() < deadline:
            time.sleep(0.2)
    for pid in session_pids(sid):
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class LoopbackCluster:
    """Head + ``workers`` worker nodes (default one) on loopback addresses."""

    def __init__(self, env: dict[str, str], workers: int = 1) -> None:
        self.temp = tempfile.mkdtemp(prefix="wbc-", dir="/tmp")  # short: unix sockets
        self.port = free_port()
        self.address = f"127.0.0.2:{self.port}"
        self.workers = workers
        self.env = {
            **env,
            # Multi-node needs this on; it makes Ray rewrite 127.0.0.1 (not 127.0.0.2/.3)
            # to the machine's routable address, so the nodes use 127.0.0.2 and 127.0.0.3.
            "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "1",
            "RAY_USAGE_STATS_ENABLED": "0",
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(32),
            "RAY_ADDRESS": self.address,
            # the raylet's wait for its agents' port files (15-30 s) is too short on a busy
            # 2-core machine, where they take 20-45 s to import
            "RAY_raylet_start_wait_time_s": "120",
            "RAY_agent_register_timeout_ms": "120000",
        }
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self._saved = ADDRESS_FILE.read_text() if ADDRESS_FILE.exists() else None

    @property
    def node_names(self) -> list[str]:
        """``head``, ``worker`` (the first worker), ``worker2``, ..."""
        return ["head"] + [self._worker_name(i) for i in range(self.workers)]

    @staticmethod
    def _worker_name(i: int) -> str:
        return "worker" if i == 0 else f"worker{i + 1}"

    def _start(self, name: str, args: list[str], env: dict[str, str]) -> None:
        common = ["--num-cpus=2", "--block", "--include-log-monitor=false"]
        # Fixed agent ports: with port 0 the raylet waits a fixed 30 s for the agents to
        # write their port files, which a busy 2-core machine misses.
        agents = ("dashboard-agent-listen", "dashboard-agent-grpc", "runtime-env-agent",
                  "metrics-export")  # fmt: skip
        common += [f"--{a}-port={free_port()}" for a in agents] + ["--disable-usage-stats"]
        log = open(Path(self.temp) / f"{name}.out", "wb")  # noqa: SIM115 - the child's
        self.procs[name] = subprocess.Popen(
            [RAY, "start", *args, *common],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def _raylet_logs(self) -> set[Path]:
        return set(Path(self.temp).glob("session_2*/logs/raylet*.out"))

    def _raylet_failed(self, before: set[Path]) -> bool:
        """Did a raylet started by this attempt (a log not in ``before``) abort?"""
        new = self._raylet_logs() - before
        return any("Check failed" in p.read_text(errors="replace") for p in new)

    def _started(self, name: str, timeout: float = 120) -> bool:
        """Wait for ``ray start``'s success line; False when it exited or its raylet died
        (a start-up timeout: on a busy 2-core machine the raylet's fixed ~15 s wait for
        its agents' port files can run out)."""
        before = self._raylet_logs()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if "Ray runtime started" in self.output(name):
                return True
            if self.procs[name].poll() is not None or self._raylet_failed(before):
                return False
            time.sleep(0.2)
        raise RuntimeError(f"ray {name} did not start in {timeout}s: {self.output(name)[-2000:]}")

    def _start_until_up(self, name: str, args: list[str], env: dict[str, str]) -> None:
        for _ in range(5):
            self._start(name, args, env)
            if self._started(name):
                return
            kill_session(self.procs[name].pid)
        raise RuntimeError(f"ray {name} did not start: {self.output(name)[-3000:]}")

    def start(self) -> None:
        """Start the head, then each worker (each tried up to five times)."""
        head = ["--head", "--node-ip-address=127.0.0.2", f"--port={self.port}"]
        head += [f"--temp-dir={self.temp}", "--include-dashboard=false"]
        head += [f"--ray-client-server-port={free_port()}", '--resources={"workbench_head": 1}']
        self._start_until_up("head", head, self.env)
        for i in range(self.workers):
            worker = [f"--address={self.address}", f"--node-ip-address=127.0.0.{3 + i}"]
            self._start_until_up(self._worker_name(i), worker, self.env)

    def output(self, name: str) -> str:
        """What ``ray start`` of node ``name`` printed."""
        return (Path(self.temp) / f"{name}.out").read_text(errors="replace")

    def node_cpu_seconds(self) -> dict[str, float]:
        """User+system CPU seconds so far of every live process of each node's session
        (its raylet, GCS, and the workers and replicas it spawned)."""
        tick = os.sysconf("SC_CLK_TCK")
        out: dict[str, float] = {}
        for name, proc in self.procs.items():
            total = 0.0
            for pid in session_pids(proc.pid):
                try:
                    raw = Path(f"/proc/{pid}/stat").read_text()
                except OSError:
                    continue
                fields = raw[raw.rfind(")") + 2 :].split()
                total += (int(fields[11]) + int(fields[12])) / tick
            out[name] = total
        return out

    def kill_worker(self) -> None:
        """The worker node dies at once (SIGKILL to every process of it)."""
        kill_session(self.procs["worker"].pid)

    def stop(self) -> None:
        """Stop every node (workers first) and restore ``ray_current_cluster``."""
        for name in reversed(self.node_names):
            if name in self.procs:
                kill_session(self.procs[name].pid, grace_s=3.0)
                self.procs[name].wait(timeout=10)
        if self._saved is None:
            ADDRESS_FILE.unlink(missing_ok=True)
        else:
            ADDRESS_FILE.write_text(self._saved)
