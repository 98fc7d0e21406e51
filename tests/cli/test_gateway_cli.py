"""``workbench status`` / ``down`` / ``up`` process handling, without starting Ray.

A real child process stands in for the gateway (its pid in ``gateway.json``), and a real
HTTP server on 127.0.0.1 answers its ``/health``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.cli.gateway import EXIT_NOT_RUNNING

# A stand-in gateway: records the signal it gets, exits 0 on SIGTERM (or ignores it).
STAND_IN = """
import pathlib, signal, sys, time
mark = pathlib.Path(sys.argv[1])
def on_term(signum, frame):
    mark.write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if sys.argv[2] == "ignore" else on_term)
mark.with_suffix(".ready").write_text("1")
while True:
    time.sleep(0.05)
"""


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def write_state(home: Path, pid: int, port: int, **extra: object) -> None:
    state = {"pid": pid, "host": "127.0.0.1", "port": port, "status": "ready", **extra}
    (home / "gateway.json").write_text(json.dumps(state))


@pytest.fixture
def stand_in(wb_home: Path, request: pytest.FixtureRequest) -> Iterator[subprocess.Popen[bytes]]:
    mode = getattr(request, "param", "exit")
    mark = wb_home / "signal.txt"
    proc = subprocess.Popen([sys.executable, "-c", STAND_IN, str(mark), mode])
    deadline = time.monotonic() + 60
    while not mark.with_suffix(".ready").exists():
        assert proc.poll() is None and time.monotonic() < deadline, "stand-in did not start"
        time.sleep(0.05)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=10)


class _Health(BaseHTTPRequestHandler):
    answer: tuple[int, dict[str, object]] = (200, {"status": "ready"})

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        code, body = self.answer
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_status_exits_3_when_no_gateway_runs_also_with_json(wb_home: Path) -> None:
    plain = run("status")
    assert plain.exit_code == EXIT_NOT_RUNNING
    assert "not running" in plain.output
    as_json = run("status", "--json")
    assert as_json.exit_code == EXIT_NOT_RUNNING
    assert json.loads(as_json.output) == {"running": False, "health": None}


def test_status_exits_3_for_a_stale_state_file(wb_home: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(timeout=30)
    write_state(wb_home, dead.pid, 1)
    result = run("status", "--json")
    assert result.exit_code == EXIT_NOT_RUNNING
    out = json.loads(result.output)
    assert out["running"] is False and out["pid"] == dead.pid


def test_status_of_a_running_gateway(
    wb_home: Path, stand_in: subprocess.Popen[bytes], health_server: ThreadingHTTPServer
) -> None:
    write_state(wb_home, stand_in.pid, health_server.server_address[1])
    result = run("status", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["running"] is True and out["health"] == {"status": "ready"}
    text = run("status")
    assert text.exit_code == 0
    assert f"ready (pid {stand_in.pid})" in text.output


def test_status_shows_a_draining_gateway(
    wb_home: Path,
    stand_in: subprocess.Popen[bytes],
    health_server: ThreadingHTTPServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_Health, "answer", (503, {"status": "draining", "ready": False}))
    write_state(wb_home, stand_in.pid, health_server.server_address[1], status="draining")
    result = run("status", "--json")
    assert result.exit_code == 0  # it is running, though not taking new requests
    assert json.loads(result.output)["health"]["status"] == "draining"


def test_down_sends_sigterm_and_waits(wb_home: Path, stand_in: subprocess.Popen[bytes]) -> None:
    write_state(wb_home, stand_in.pid, 1, grace_s=5)
    result = run("down")
    assert result.exit_code == 0, result.output
    assert f"gateway (pid {stand_in.pid}) stopped" in result.output
    assert stand_in.wait(timeout=10) == 0
    assert (wb_home / "signal.txt").read_text() == "SIGTERM"


@pytest.mark.parametrize("stand_in", ["ignore"], indirect=True)
def test_down_kills_after_its_timeout(wb_home: Path, stand_in: subprocess.Popen[bytes]) -> None:
    write_state(wb_home, stand_in.pid, 1)
    result = CliRunner().invoke(main, ["down", "--timeout", "1"])
    assert result.exit_code == 1
    assert "did not stop in 1s; killed" in result.output
    assert stand_in.wait(timeout=10) == -signal.SIGKILL


def test_down_without_a_gateway(wb_home: Path) -> None:
    result = run("down")
    assert result.exit_code == 0
    assert "no gateway is running" in result.output


def test_up_refuses_while_one_runs(wb_home: Path, stand_in: subprocess.Popen[bytes]) -> None:
    write_state(wb_home, stand_in.pid, 8123)
    result = CliRunner().invoke(main, ["up", "--detach"])
    assert result.exit_code == 1
    assert "already running" in result.output
    assert stand_in.poll() is None and os.path.exists(wb_home / "gateway.json")


def test_up_grace_must_not_be_negative(wb_home: Path) -> None:
    result = CliRunner().invoke(main, ["up", "--grace", "-1"])
    assert result.exit_code == 2
    assert "--grace" in result.output
