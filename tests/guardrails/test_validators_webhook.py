"""webhook against a real HTTP server on 127.0.0.1 (in a thread): verdicts, payload,
headers, and every failure mode both fail-open and fail-closed, on the blocking path
(``validate``) and the async one the engine awaits (``async_validate``); the engine keeps
the event loop free while a webhook waits, and concurrent checks do not serialise."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

RECEIVED: list[dict[str, Any]] = []


class Gather:
    """``/gather`` answers only once ``parties`` requests are waiting at the server at the
    same time (a barrier); if the client sent them one after another, they fail (500)."""

    barrier = threading.Barrier(1)

    @classmethod
    def expect(cls, parties: int) -> None:
        cls.barrier = threading.Barrier(parties, timeout=20)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("content-type", ctype)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self) -> None:
        self.path = self.path.split("?", 1)[0]
        size = int(self.headers.get("content-length", "0"))
        payload = json.loads(self.rfile.read(size))
        RECEIVED.append({"path": self.path, "body": payload, "headers": dict(self.headers)})
        answers: dict[str, Any] = {
            "/pass": {"pass": True, "score": 0.1},
            "/fail": {
                "pass": False,
                "score": 0.9,
                "message": "blocked by policy X",
                "spans": [{"start": 0, "end": 5, "reason": "bad word"}, [6, 9], [50, 900]],
                "fix": "***** ok",
            },
            "/nopass": {"score": 1},
        }
        if self.path in ("/slow", "/slow2"):
            time.sleep(1.0 if self.path == "/slow" else 2.0)
            return self._send(200, b'{"pass": true}')
        if self.path == "/gather":
            try:
                Gather.barrier.wait()
            except threading.BrokenBarrierError:
                return self._send(500, b'{"error": "requests did not arrive together"}')
            return self._send(200, b'{"pass": true}')
        if self.path == "/error":
            return self._send(500, b'{"error": "boom"}')
        if self.path == "/notjson":
            return self._send(200, b"<html>hello</html>", "text/html")
        self._send(200, json.dumps(answers[self.path]).encode())


class Server(ThreadingHTTPServer):
    request_queue_size = 128  # accept a burst of concurrent checks


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


REQUEST = {"model": "gpt-4o", "workspace": "ws", "user": "u1", "metadata": {"team": "a"}}


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Any:
    """``run(check, text, metadata)`` through ``validate`` or ``async_validate``."""

    def _run(v: Any, text: str, metadata: dict[str, Any]) -> Any:
        if request.param == "sync":
            return v.validate(text, metadata)
        return asyncio.run(v.async_validate(text, metadata))

    return _run


def test_pass_and_payload(make: Any, server: str, run: Any) -> None:
    RECEIVED.clear()
    v = make("webhook", url=f"{server}/pass", headers={"X-Api-Key": "k1"})
    res = run(v, "hello there", {"stage": "input", "request": REQUEST, "scores": {}})
    assert res.outcome == "pass" and res.metadata == {"score": 0.1}
    got = RECEIVED[-1]
    assert got["body"] == {"text": "hello there", "stage": "input", "request": REQUEST}
    headers = {k.lower(): v for k, v in got["headers"].items()}
    assert headers["x-api-key"] == "k1"
    assert headers["content-type"] == "application/json"


def test_fail_with_spans_message_and_fix(make: Any, server: str, spans: Any, run: Any) -> None:
    v = make("webhook", url=f"{server}/fail")
    text = "shoot the moon"
    res = run(v, text, {"stage": "output", "request": {}})
    assert res.outcome == "fail"
    assert res.error_message == "blocked by policy X"
    assert res.metadata == {"score": 0.9}
    assert spans(res, text) == [("shoot", "bad word"), ("the", "webhook")]  # bad span dropped
    assert res.fix_value == "***** ok"


@pytest.mark.parametrize(
    "path, why",
    [
        ("/slow", "timed out after 0.2s"),
        ("/error", "HTTP 500"),
        ("/notjson", "answer is not JSON"),
        ("/nopass", 'answer has no boolean "pass"'),
    ],
)
def test_unavailable_fail_open_and_closed(
    make: Any, server: str, path: str, why: str, run: Any
) -> None:
    closed = make("webhook", url=server + path, timeout_s=0.2)
    res = run(closed, "x", {"stage": "input"})
    assert res.outcome == "fail"
    assert why in res.error_message and "failing closed" in res.error_message
    opened = make("webhook", url=server + path, timeout_s=0.2, fail_open=True)
    res = run(opened, "x", {"stage": "input"})
    assert res.outcome == "pass" and res.metadata["webhook_error"] == why


def test_connection_refused(make: Any, closed_port: int, run: Any) -> None:
    url = f"http://127.0.0.1:{closed_port}/check"
    res = run(make("webhook", url=url), "x", {})
    assert res.outcome == "fail" and "cannot connect" in res.error_message
    assert run(make("webhook", url=url, fail_open=True), "x", {}).outcome == "pass"


def test_failure_message_hides_url_credentials_and_query(
    make: Any, server: str, run: Any
) -> None:
    port = server.rsplit(":", 1)[1]
    url = f"http://hook-user:hook-pass@127.0.0.1:{port}/error?token=tok-123#frag"
    res = run(make("webhook", url=url), "x", {})
    assert res.outcome == "fail"
    assert f"webhook http://127.0.0.1:{port}/error unavailable (HTTP 500)" in res.error_message
    for secret in ("hook-user", "hook-pass", "tok-123", "frag"):
        assert secret not in res.error_message


async def test_sync_validate_works_inside_an_event_loop(make: Any, server: str) -> None:
    v = make("webhook", url=f"{server}/pass")
    assert v.validate("x", {"stage": "input"}).outcome == "pass"
    assert (await v.async_validate("x", {"stage": "input"})).outcome == "pass"


def _webhook_engine(catalogue: Any, url: str, timeout_s: float = 5.0) -> Any:
    from workbench.guardrails.engine import GuardrailEngine
    from workbench.policy import parse_policy

    check = {"name": "hook", "validator": "webhook", "on_fail": "deny",
             "params": {"url": url, "timeout_s": timeout_s}}
    policy = parse_policy({"id": "t", "input": [check]}, registry=catalogue)
    return GuardrailEngine(policy, registry=catalogue)


class Ticker:
    """Counts how often another coroutine got to run (every 10 ms when the loop is free)."""

    def __init__(self) -> None:
        self.ticks = 0
        self.task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            self.ticks += 1
            await asyncio.sleep(0.01)

    def __enter__(self) -> Ticker:
        self.task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()


async def test_a_slow_webhook_does_not_block_the_event_loop(catalogue: Any, server: str) -> None:
    engine = _webhook_engine(catalogue, f"{server}/slow2")
    with Ticker() as ticker:
        await asyncio.sleep(0)
        out = await engine.run_stage("input", ["hello"])
    assert out.deny is None and out.verdicts[0].passed
    # 2 s of waiting at one tick per 10 ms: a blocked loop would have ticked about once
    assert ticker.ticks >= 50, f"the loop ticked {ticker.ticks} times in 2 s"


async def test_webhook_timeout_on_the_engine_path_keeps_the_loop_free(
    catalogue: Any, server: str
) -> None:
    engine = _webhook_engine(catalogue, f"{server}/slow", timeout_s=0.3)
    with Ticker() as ticker:
        out = await engine.run_stage("input", ["hello"])
    assert out.deny is not None and "timed out after 0.3s" in (out.deny.message or "")
    assert ticker.ticks >= 10


async def test_concurrent_webhook_checks_do_not_serialise(catalogue: Any, server: str) -> None:
    engine = _webhook_engine(catalogue, f"{server}/gather", timeout_s=30)
    Gather.expect(24)
    outs = await asyncio.gather(*(engine.run_stage("input", [f"t{i}"]) for i in range(24)))
    # each check passes only if all 24 were waiting at the server at the same time
    assert [o.deny for o in outs] == [None] * 24


async def test_texts_of_one_stage_are_checked_concurrently(catalogue: Any, server: str) -> None:
    engine = _webhook_engine(catalogue, f"{server}/gather", timeout_s=30)
    Gather.expect(6)
    out = await engine.run_stage("input", [f"message {i}" for i in range(6)])
    assert len(out.verdicts) == 1 and out.verdicts[0].passed, out.verdicts[0].message
