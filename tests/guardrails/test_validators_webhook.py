"""webhook against a real HTTP server on 127.0.0.1 (in a thread): verdicts, payload,
headers, and every failure mode both fail-open and fail-closed."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

RECEIVED: list[dict[str, Any]] = []


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
        if self.path == "/slow":
            time.sleep(1.0)
            return self._send(200, b'{"pass": true}')
        if self.path == "/error":
            return self._send(500, b'{"error": "boom"}')
        if self.path == "/notjson":
            return self._send(200, b"<html>hello</html>", "text/html")
        self._send(200, json.dumps(answers[self.path]).encode())


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
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


def test_pass_and_payload(make: Any, server: str) -> None:
    RECEIVED.clear()
    v = make("webhook", url=f"{server}/pass", headers={"X-Api-Key": "k1"})
    res = v.validate("hello there", {"stage": "input", "request": REQUEST, "scores": {}})
    assert res.outcome == "pass" and res.metadata == {"score": 0.1}
    got = RECEIVED[-1]
    assert got["body"] == {"text": "hello there", "stage": "input", "request": REQUEST}
    assert got["headers"]["X-Api-Key"] == "k1"
    assert got["headers"]["content-type"] == "application/json"


def test_fail_with_spans_message_and_fix(make: Any, server: str, spans: Any) -> None:
    v = make("webhook", url=f"{server}/fail")
    text = "shoot the moon"
    res = v.validate(text, {"stage": "output", "request": {}})
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
def test_unavailable_fail_open_and_closed(make: Any, server: str, path: str, why: str) -> None:
    closed = make("webhook", url=server + path, timeout_s=0.2)
    started = time.perf_counter()
    res = closed.validate("x", {"stage": "input"})
    assert time.perf_counter() - started < 0.9
    assert res.outcome == "fail"
    assert why in res.error_message and "failing closed" in res.error_message
    opened = make("webhook", url=server + path, timeout_s=0.2, fail_open=True)
    res = opened.validate("x", {"stage": "input"})
    assert res.outcome == "pass" and res.metadata["webhook_error"] == why


def test_connection_refused(make: Any, closed_port: int) -> None:
    url = f"http://127.0.0.1:{closed_port}/check"
    res = make("webhook", url=url).validate("x", {})
    assert res.outcome == "fail" and "ConnectError" in res.error_message
    assert make("webhook", url=url, fail_open=True).validate("x", {}).outcome == "pass"


async def test_sync_validate_works_inside_an_event_loop(make: Any, server: str) -> None:
    v = make("webhook", url=f"{server}/pass")
    assert v.validate("x", {"stage": "input"}).outcome == "pass"
    assert (await v.async_validate("x", {"stage": "input"})).outcome == "pass"
