"""The gateway's process lifecycle through the CLI (real Ray Serve, real HTTP on loopback).

- ``status`` / ``up`` / ``logs`` against the session gateway (started with ``up --detach``);
- every socket the gateway's processes listen on is on loopback;
- a graceful stop (``workbench down``: SIGTERM to the ``workbench up`` process) lets
  requests in flight finish, refuses new ones with 503, logs exactly one record per request with the
  status its client saw, and exits 0 without a traceback.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request

from tests.conftest import ROOT, WORKBENCH, Gateway

pytestmark = pytest.mark.slow

LISTEN = "0A"  # TCP state in /proc/net/tcp*
WILDCARDS = {"0.0.0.0", "::"}


def test_status_reports_running_and_ready(gateway):
    out = json.loads(gateway.cli("status", "--json").stdout)
    assert out["running"] is True
    assert out["health"]["status"] == "ready"
    assert gateway.base_url.endswith(str(out["port"]))


def test_up_starts_the_dashboard_next_to_the_gateway(gateway):
    deadline = time.monotonic() + 120  # the child imports Panel after the gateway is ready
    while True:
        try:
            login = httpx.get(gateway.dashboard_url + "/login", timeout=5)
            break
        except httpx.HTTPError:
            assert time.monotonic() < deadline, "the dashboard never answered"
            time.sleep(1)
    assert login.status_code == 200 and 'name="token"' in login.text
    page = httpx.get(gateway.dashboard_url + "/live", timeout=30, follow_redirects=False)
    assert page.status_code == 302 and "login?next=" in page.headers["location"]


def test_second_up_is_refused(gateway):
    r = gateway.cli("up", "--detach", check=False)
    assert r.returncode != 0
    assert "already running" in r.stderr


def test_logs_cli_sees_traffic(gateway):
    r = httpx.post(
        gateway.base_url + "/v1/chat/completions",
        timeout=30,
        headers={"Authorization": f"Bearer {gateway.key}"},
        json={"model": "echo", "messages": [{"role": "user", "content": "tail me"}]},
    )
    rid = r.headers["x-workbench-request-id"]
    gateway.wait_logged({rid})
    tail = gateway.cli("logs", "tail", "-n", "50", "--json").stdout
    assert rid in tail
    q = gateway.cli(
        "logs", "query", f"select status from requests where request_id='{rid}'", "--format", "json"
    ).stdout
    assert "ok" in q


# ------------------------------------------------------------------ listening sockets


def _processes(root: int) -> set[int]:
    """``root``, its descendants, and every process of its session."""
    parents: dict[int, int] = {}
    session: set[int] = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(entry)] = int(fields[1])
        if int(fields[3]) == root:
            session.add(int(entry))
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [c for c, p in parents.items() if p == pid and c not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return tree | session


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:
        pass
    return inodes


def _address(hex_addr: str) -> tuple[str, int]:
    import ipaddress

    host, port = hex_addr.split(":")
    raw = bytes.fromhex(host)
    # /proc/net/tcp* stores the address as 32-bit words in host (little-endian) order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    ip = ipaddress.ip_address(words)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), int(port, 16)


def listening_sockets(root_pid: int) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket that the process tree listens on."""
    owners: dict[str, int] = {}
    for pid in _processes(root_pid):
        for inode in _socket_inodes(pid):
            owners[inode] = pid
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                cols = line.split()
                if cols[3] == LISTEN and cols[9] in owners:
                    found.append((*_address(cols[1]), owners[cols[9]]))
    return found


def _name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode()[:80]
    except OSError:
        return "?"


def test_every_listening_socket_is_on_loopback(gateway):
    state = json.loads((gateway.home / "gateway.json").read_text())
    assert state["host"] == "127.0.0.1"
    sockets = listening_sockets(int(state["pid"]))
    ports = {port for _, port, _ in sockets}
    assert int(state["port"]) in ports  # the gateway's own front is among them
    assert len(sockets) >= 8  # GCS, raylet, agents, workers, HAProxy, replicas ...
    exposed = [(a, p, _name(pid)) for a, p, pid in sockets if a in WILDCARDS]
    assert exposed == []
    assert all(a.startswith("127.") for a, _, _ in sockets), sockets


# ------------------------------------------------------------------ graceful stop

MAX_TOKENS = 10
N_PLAIN, N_STREAM = 4, 3


@dataclass
class Outcome:
    """What one client saw."""

    stream: bool
    status: int = 0
    request_id: str | None = None
    body: Any = None
    events: list[Any] = field(default_factory=list)
    done: bool = False
    error: str | None = None
    started: threading.Event = field(default_factory=threading.Event)


def chat(gw: Gateway, model: str, stream: bool, out: Outcome | None = None) -> Outcome:
    out = out or Outcome(stream=stream)
    body = {
        "model": model,
        "messages": [{"role": "user", "content": f"{model} {'stream' if stream else 'plain'}"}],
        "max_tokens": MAX_TOKENS,
        "stream": stream,
    }
    url, auth = gw.base_url + "/v1/chat/completions", {"Authorization": f"Bearer {gw.key}"}
    try:
        with httpx.Client(timeout=120) as client:
            with client.stream("POST", url, json=body, headers=auth) as r:
                out.status = r.status_code
                out.request_id = r.headers.get("x-workbench-request-id")
                if not stream or r.status_code != 200:
                    out.body = json.loads(r.read())
                    return out
                for line in r.iter_lines():
                    if line == "data: [DONE]":
                        out.done = True
                    elif line.startswith("data: "):
                        out.events.append(json.loads(line[6:]))
                        out.started.set()
    except httpx.HTTPError as exc:
        out.error = f"{type(exc).__name__}: {exc}"
    return out


def _down(gw: Gateway) -> Future[int]:
    """``workbench down`` (it sends SIGTERM to the ``workbench up`` process and waits);
    the future resolves to its exit code."""

    def down() -> int:
        r = subprocess.run(
            [*WORKBENCH, "down"],
            env=gw.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert "stopped" in r.stdout and "killed" not in r.stdout + r.stderr, r.stdout
        return r.returncode

    return ThreadPoolExecutor(1).submit(down)


def _draining_refusal(gw: Gateway) -> Outcome:
    """Once /health says draining, a new request is refused with 503."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            health = httpx.get(gw.base_url + "/health", timeout=5)
        except httpx.HTTPError:
            health = None
        if health is not None and health.status_code == 503:
            assert health.json()["status"] == "draining"
            return chat(gw, "slow", False)
        time.sleep(0.05)
    pytest.fail(f"the gateway never reported draining:\n{_log_tail(gw)}")


def _log_tail(gw: Gateway, start: int = 0) -> str:
    return (gw.home / "gateway.log").read_text(errors="replace")[start:][-4000:]


def _logged(home: Path, ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    from workbench.logstore import query

    wanted = ", ".join(f"'{i}'" for i in ids)
    rows = query(
        "select request_id, http_status, status, error_code, stream, finish_reason "
        f"from requests where request_id in ({wanted})",
        root=home / "logs",
    ).to_dicts()
    by_id: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_id.setdefault(row["request_id"], []).append(row)
    return by_id


def _send_load(
    pool: ThreadPoolExecutor, gw: Gateway
) -> tuple[list[Future[Outcome]], Future[Outcome], Future[Outcome]]:
    """Requests that finish in the grace period, and two that outlive it; returns once
    every one of them is in flight (and the endless stream has begun)."""
    calls = [pool.submit(chat, gw, "slow", False) for _ in range(N_PLAIN)]
    calls += [pool.submit(chat, gw, "slow", True) for _ in range(N_STREAM)]
    stuck = pool.submit(chat, gw, "stuck", False)
    endless_out = Outcome(stream=True)
    endless = pool.submit(chat, gw, "endless", True, endless_out)
    ups = {name: up.app for name, up in gw.slow.items()}
    deadline = time.monotonic() + 60
    while not (
        ups["slow"].served["chat"] == N_PLAIN + N_STREAM
        and ups["stuck"].served["chat"] == 1
        and endless_out.started.is_set()
    ):
        assert time.monotonic() < deadline, {n: u.served for n, u in ups.items()}
        time.sleep(0.05)
    return calls, stuck, endless


@pytest.mark.stops_session_gateway
def test_stop_lets_requests_in_flight_finish(gateway: Gateway):
    """``workbench down`` (SIGTERM to ``workbench up``, what systemd and Kubernetes send)
    under load: requests that can finish in the grace period do, new ones get 503, the rest
    are cut at the deadline, each is logged once as its client saw it, and the process exits
    without a traceback. It stops the session gateway, so it runs last (tests/conftest.py);
    the gateway was started with ``--grace`` GRACE_S and the slow upstreams SLOW_UPSTREAMS."""
    log_start = len((gateway.home / "gateway.log").read_text(errors="replace"))
    with ThreadPoolExecutor(N_PLAIN + N_STREAM + 2) as pool:
        calls, stuck_call, endless_call = _send_load(pool, gateway)
        stopped = _down(gateway)
        refused = _draining_refusal(gateway)
        outcomes = [c.result(timeout=120) for c in calls]
        stuck, endless = stuck_call.result(timeout=120), endless_call.result(timeout=120)
    assert stopped.result(timeout=300) == 0

    for o in outcomes:  # finished within the grace period: complete answers
        assert o.error is None and o.status == 200, o
        if o.stream:
            assert o.done and o.events[-1]["choices"][0]["finish_reason"] == "length", o
            assert len(o.events) >= MAX_TOKENS
        else:
            assert o.body["choices"][0]["finish_reason"] == "length", o
    assert refused.status == 503, refused  # arrived while draining
    assert refused.body["error"]["code"] == "shutting_down"
    assert stuck.status == 503, stuck  # cut at the deadline before its answer began
    assert stuck.body["error"]["code"] == "cut_at_shutdown"
    assert endless.status == 200 and endless.events and not endless.done, endless  # cut

    log = _log_tail(gateway, log_start)
    assert "Traceback" not in log and "Aborted" not in log and "core dumped" not in log, log
    assert "2 cut at the deadline" in log and "gateway stopped" in log, log
    assert not (gateway.home / "gateway.json").exists()

    every = [*outcomes, refused, stuck, endless]
    logged = _logged(gateway.home, [o.request_id or "" for o in every])
    for o in every:  # one record each, as the client saw it
        assert o.request_id is not None, o
        rows = logged.get(o.request_id, [])
        assert len(rows) == 1, (o.request_id, rows)
        assert rows[0]["http_status"] == o.status, (o, rows[0])
    ok_rows = [logged[o.request_id or ""][0] for o in outcomes]
    assert all(r["status"] == "ok" and r["error_code"] is None for r in ok_rows), ok_rows
    assert logged[refused.request_id or ""][0]["error_code"] == "shutting_down"
    assert logged[stuck.request_id or ""][0]["error_code"] == "cut_at_shutdown"
    assert logged[endless.request_id or ""][0]["error_code"] == "cut_at_shutdown"


# ------------------------------------------------- Gateway.drain in-process (no Ray)


class _ReplicaContext:
    replica_tag = "test-replica"


@dataclass
class DrainRig:
    gw: Any
    base: str
    sent: list[dict[str, Any]]


@pytest.fixture
async def drain_rig(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A real uvicorn server on 127.0.0.1 serving a FastAPI app through the Gateway's
    in-flight tracking, with a real LogShipper; the Gateway's own __init__ (Ray handles,
    the pipeline) is skipped."""
    import uvicorn
    from fastapi.responses import StreamingResponse
    from ray import serve

    from serve.gateway import Gateway as Deployment
    from workbench.gateway.shipping import LogShipper

    app = FastAPI()

    @app.get("/slow/{seconds}")
    async def slow(seconds: float, request: Request) -> dict[str, Any]:
        await asyncio.sleep(seconds)
        return {"slept": seconds, "request_id": request.state.workbench_request_id}

    @app.get("/stream/{n}")
    async def stream(n: int) -> StreamingResponse:
        async def chunks() -> Any:
            for i in range(n):
                await asyncio.sleep(0.05)
                yield f"data: {i}\n\n".encode()
            yield b"data: [DONE]\n\n"

        return StreamingResponse(chunks(), media_type="text/event-stream")

    sent: list[dict[str, Any]] = []

    async def send(batch: list[dict[str, Any]]) -> int:
        sent.extend(batch)
        return len(batch)

    class Rig(Deployment.func_or_class):  # type: ignore[misc,name-defined]
        def __del__(self) -> None:  # the real one closes what this rig does not build
            pass

    monkeypatch.setattr(serve, "get_replica_context", lambda: _ReplicaContext())
    gw = object.__new__(Rig)
    gw.draining = False
    gw.shipper = LogShipper(send, interval_s=0.01)
    server = uvicorn.Server(uvicorn.Config(gw._track_inflight(app), port=0, log_level="critical"))
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield DrainRig(gw, f"http://127.0.0.1:{port}", sent)
    finally:
        server.should_exit = True
        await task


async def _in_flight(rig: DrainRig, n: int, *calls: asyncio.Task[Any]) -> None:
    while len(rig.gw._inflight) < n:
        done = [c for c in calls if c.done()]
        assert not done, [c.result() for c in done]  # finished (or failed) too early
        await asyncio.sleep(0.01)


async def test_drain_waits_for_requests_in_flight_and_ships_the_log(drain_rig: DrainRig):
    async with httpx.AsyncClient(base_url=drain_rig.base, timeout=30) as client:
        plain = [asyncio.create_task(client.get("/slow/2")) for _ in range(3)]
        streamed = asyncio.create_task(client.get("/stream/40"))
        await _in_flight(drain_rig, 4, *plain, streamed)
        drain_rig.gw.shipper.submit({"request_id": "r1"})
        reports = await asyncio.gather(drain_rig.gw.drain(10.0), drain_rig.gw.drain(10.0))
        answers = [await t for t in plain]
        stream_answer = await streamed
    assert reports[0] == reports[1]  # one drain, shared by every caller
    report = reports[0]
    assert report["replica"] == "test-replica"
    assert report["in_flight_at_start"] == 4 and report["cut"] == 0
    assert report["log_shipped"] is True and report["log_backlog"] == 0
    assert drain_rig.gw.draining is True
    assert [a.status_code for a in answers] == [200, 200, 200]
    ids = {a.json()["request_id"] for a in answers}  # chosen by the ingress, one each
    assert len(ids) == 3 and all(len(i) == 32 for i in ids)
    assert stream_answer.text.endswith("data: [DONE]\n\n")
    assert drain_rig.sent == [{"request_id": "r1"}]


async def test_drain_cuts_what_outlives_the_grace_period(drain_rig: DrainRig):
    async with httpx.AsyncClient(base_url=drain_rig.base, timeout=30) as client:
        slow = asyncio.create_task(client.get("/slow/60"))
        chunks: list[str] = []

        async def read_stream() -> str | None:
            try:
                async with client.stream("GET", "/stream/1000") as r:
                    async for line in r.aiter_lines():
                        chunks.append(line)
            except httpx.HTTPError as exc:
                return type(exc).__name__
            return None

        streamed = asyncio.create_task(read_stream())
        quick = asyncio.create_task(client.get("/slow/0.01"))
        await _in_flight(drain_rig, 2, slow, streamed)
        while not chunks:  # the stream has started
            await asyncio.sleep(0.01)
        report = await drain_rig.gw.drain(0.3)
        refused, stream_error, fine = await slow, await streamed, await quick
    assert report["cut"] == 2 and report["in_flight_at_start"] >= 2
    assert fine.status_code == 200
    assert refused.status_code == 503
    assert refused.json()["error"]["code"] == "cut_at_shutdown"
    assert len(refused.headers["x-workbench-request-id"]) == 32  # the id the log records
    assert stream_error == "RemoteProtocolError"  # the client sees the cut
    assert "data: [DONE]" not in chunks
    assert not drain_rig.gw._inflight
