"""Shared fixtures.

``gateway`` starts ONE real gateway per test session the way users do
(``workbench up --detach`` with a test config: real Ray Serve, real HTTP on
loopback, real DuckDB/Parquet log files) in front of fake OpenAI-compatible
upstreams on 127.0.0.1, and stops it with ``workbench down`` at the end. It starts in
the background as soon as collection shows a test needs it, so its start overlaps the
tests that run first.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from bench.fake_providers import FakeProviderThread
from bench.fake_upstream import FakeUpstreamThread

ROOT = Path(__file__).resolve().parents[1]
WORKBENCH = [sys.executable, "-m", "workbench.cli"]
# One ONNX graph cache for every home the tests make (and the gateways and CLIs they start):
# MiniLM is exported once per machine, not once per temporary home (15-30 s each).
os.environ.setdefault("WORKBENCH_ONNX_CACHE", str(Path(tempfile.gettempdir()) / "wb-test-onnx"))


@pytest.fixture
def wb_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private WORKBENCH_HOME for one test."""
    home = tmp_path / "wbhome"
    home.mkdir()
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reserved_port() -> int:
    """A free port below the kernel's ephemeral range, for a server that binds it only
    later (the session gateway binds its port a minute after it is chosen, while other
    tests run): no port-0 bind or outgoing connection can take it meanwhile."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(max(1024, low - 12000), low)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


@dataclass
class Gateway:
    """A running gateway started for the test session."""

    base_url: str
    key: str
    key_id: str
    home: Path
    upstream: FakeUpstreamThread
    env: dict[str, str]
    # fake providers with a fault switch, by gateway model name (see fault_models)
    fakes: dict[str, FakeProviderThread] = field(default_factory=dict)
    dashboard_url: str = ""  # the dashboard `workbench up` started next to the gateway
    # slow upstreams for the graceful-stop test, by gateway model name (see SLOW_UPSTREAMS)
    slow: dict[str, FakeUpstreamThread] = field(default_factory=dict)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run the workbench CLI against this gateway's home."""
        return subprocess.run(
            [*WORKBENCH, *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
            cwd=ROOT,
        )

    def wait_policy_live(self, policy_id: str, timeout: float) -> None:
        """Wait until ``/health`` lists a version of ``policy_id`` as live."""
        import httpx

        deadline = time.time() + timeout
        h: dict = {}
        while time.time() < deadline:
            h = httpx.get(self.base_url + "/health", timeout=5).json()
            if any(v.startswith(policy_id + "@") for v in h.get("policies_live", [])):
                return
            time.sleep(0.2)
        raise AssertionError(f"{policy_id} not live after {timeout}s: {h}")

    def wait_logged(self, request_ids: set[str], timeout: float = 20.0) -> dict[str, dict]:
        """Poll the log view until every id is there; returns rows by id."""
        from workbench.logstore import query

        deadline = time.time() + timeout
        rows: dict[str, dict] = {}
        ids_sql = ",".join(f"'{i}'" for i in request_ids)
        while time.time() < deadline:
            df = query(
                f"select * from requests where request_id in ({ids_sql})", root=self.home / "logs"
            )
            rows = {r["request_id"]: r for r in df.to_dicts()}
            if set(rows) >= request_ids:
                return rows
            time.sleep(0.3)
        return rows


def gateway_config(port: int, up: str, slow_up: str, dead_port: int) -> str:
    return f"""
gateway: {{host: 127.0.0.1, port: {port}, max_body_bytes: 65536, max_ongoing_requests: 256}}
logging: {{flush_interval_s: 0.3, flush_rows: 200}}
models:
  - {{name: echo, provider: echo}}
  - {{name: upstream, provider: openai-compatible, base_url: "{up}", model: fake-model,
      api_key_env: TEST_UPSTREAM_KEY}}
  - {{name: gpt-4o-mini, provider: openai-compatible, base_url: "{up}", model: gpt-4o-mini,
      api_key_env: TEST_UPSTREAM_KEY}}
  - {{name: upstream-slow, provider: openai-compatible, base_url: "{slow_up}", model: slow,
      timeouts: {{connect: 1, read: 0.3}}}}
  - {{name: upstream-down, provider: openai-compatible,
      base_url: "http://127.0.0.1:{dead_port}/v1", model: x, timeouts: {{connect: 1, read: 1}}}}
  - {{name: fault-down, provider: openai-compatible,
      base_url: "http://127.0.0.1:{dead_port}/v1", model: x, timeouts: {{connect: 1, read: 1}}}}
  - {{name: tiny, provider: local, model: tiny, max_batch_size: 8, batch_wait_timeout_s: 0.02,
      max_new_tokens_default: 16}}
  - {{name: minilm, provider: embeddings}}
  - {{name: guarded, provider: echo}}
  - {{name: guarded-stream, provider: echo}}
  - {{name: guarded-up, provider: openai-compatible, base_url: "{up}", model: fake-model,
      api_key_env: TEST_UPSTREAM_KEY}}
"""


#: What ``workbench up --grace`` gets: the graceful-stop test (tests/serve/test_cli_gateway.py)
#: stops the session gateway as the session's last test.
GRACE_S = 15
#: model name -> (delay before the answer, delay between stream chunks) in ms
SLOW_UPSTREAMS = {
    "slow": (4000, 200),  # answers well within the grace period (~6 s with its stream)
    "stuck": (45_000, 0),  # answers after it: cut before its reply starts
    "endless": (200, 10_000),  # starts streaming, then outlives it: cut mid-stream
}


def slow_models(slow: dict[str, FakeUpstreamThread]) -> str:
    """Model entries for the graceful-stop test's upstreams."""
    return "".join(
        f'  - {{name: {name}, provider: openai-compatible, base_url: "{up.base_url}", '
        f"model: {name}-model, timeouts: {{connect: 2, read: 900}}}}\n"
        for name, up in slow.items()
    )


def fault_models(fakes: dict[str, FakeProviderThread]) -> str:
    """Model entries for the fault-switchable fakes (tests/serve/test_faults_e2e.py)."""
    return "".join(
        f'  - {{name: {name}, provider: openai-compatible, base_url: "{f.base_url}", '
        "model: fake-model, timeouts: {connect: 1, read: 5}}\n"
        for name, f in fakes.items()
    )


def start_session_gateway(home: Path) -> tuple[Gateway, list[Any]]:
    """Start the session's gateway in ``home``; returns it and the fakes to stop after."""
    upstream = FakeUpstreamThread(delay_ms=5).start()
    slow = FakeUpstreamThread(delay_ms=3000).start()
    fakes = {name: FakeProviderThread("openai").start() for name in ("fault-a", "fault-b")}
    slow_ups = {n: FakeUpstreamThread(0, *d).start() for n, d in SLOW_UPSTREAMS.items()}
    servers: list[Any] = [upstream, slow, *fakes.values(), *slow_ups.values()]
    port, dead = reserved_port(), reserved_port()
    cfg = home / "gateway.yaml"
    cfg.write_text(
        gateway_config(port, upstream.base_url, slow.base_url, dead)
        + fault_models(fakes)
        + slow_models(slow_ups)
    )
    env = {
        **os.environ,
        "WORKBENCH_HOME": str(home),
        "TEST_UPSTREAM_KEY": "sk-upstream-test",
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(ROOT),
    }
    create = [*WORKBENCH, "keys", "create", "--workspace", "tests", "--name", "session", "--json"]
    made = subprocess.run(create, env=env, capture_output=True, text=True, cwd=ROOT)
    dash_port = reserved_port()
    up = ["up", "--detach", "--config", str(cfg), "--wait", "300", "--grace", str(GRACE_S)]
    proc = subprocess.run(
        [*WORKBENCH, *up, "--dashboard-port", str(dash_port)],
        env=env,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=360,
    )
    if made.returncode != 0 or proc.returncode != 0:
        log = (home / "gateway.log").read_text() if (home / "gateway.log").exists() else ""
        for server in servers:
            server.stop()
        raise RuntimeError(f"gateway did not start: {made.stderr}{proc.stderr}\n{log[-4000:]}")
    key = json.loads(made.stdout)
    gw = Gateway(
        dashboard_url=f"http://127.0.0.1:{dash_port}",
        base_url=f"http://127.0.0.1:{port}",
        key=key["key"],
        key_id=key["key_id"],
        home=home,
        upstream=upstream,
        env=env,
        fakes=fakes,
        slow=slow_ups,
    )
    return gw, servers


def stop_session_gateway(gw: Gateway, servers: list[Any]) -> None:
    """``workbench down``, then the fake upstreams."""
    subprocess.run(
        [*WORKBENCH, "down"], env=gw.env, capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    for server in servers:
        server.stop()


#: The session gateway, started in the background as soon as the collected tests are
#: known to need it: its start (~2 minutes: Ray, Serve, the tiny model, MiniLM) overlaps
#: the tests that run before the first one using it.
_EARLY: dict[str, Future[tuple[Gateway, list[Any]]]] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``stops_session_gateway`` run last: they stop the session gateway."""
    last = [item for item in items if item.get_closest_marker("stops_session_gateway")]
    if last:
        items[:] = [item for item in items if item not in last] + last


def pytest_collection_finish(session: pytest.Session) -> None:
    if session.config.option.collectonly:
        return
    if any("retrained" in getattr(item, "fixturenames", ()) for item in session.items):
        from tests.guardrails import _retrain_job  # minutes of encoding: start it now

        _retrain_job.start()
    if any("gateway" in getattr(item, "fixturenames", ()) for item in session.items):
        home = session.config._tmp_path_factory.mktemp("gateway-home")  # type: ignore[attr-defined]
        pool = ThreadPoolExecutor(1, thread_name_prefix="session-gateway")
        _EARLY["gateway"] = pool.submit(start_session_gateway, home)
        pool.shutdown(wait=False)


def pytest_sessionfinish(session: pytest.Session) -> None:
    from tests.guardrails import _retrain_job

    _retrain_job.stop()
    early = _EARLY.pop("gateway", None)  # started, but no test got to use it (e.g. -x)
    if early is not None:
        try:
            stop_session_gateway(*early.result())
        except Exception:
            pass


@pytest.fixture(scope="session")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """One real gateway (Ray Serve) for the whole session."""
    early = _EARLY.pop("gateway", None)
    try:
        if early is not None:
            gw, servers = early.result()
        else:
            gw, servers = start_session_gateway(tmp_path_factory.mktemp("gateway-home"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    try:
        yield gw
    finally:
        stop_session_gateway(gw, servers)
