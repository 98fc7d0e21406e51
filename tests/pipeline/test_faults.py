"""Fault tests: the real pipeline (in-process, no Ray) in front of real fake upstreams on
127.0.0.1 (``bench.fake_providers``, switched with their fault switch) that return 429
with ``Retry-After``, 500 / 503, hang past the timeout, drop the connection mid-stream,
send malformed JSON or a malformed SSE chunk, or are down (a closed port).

Each test asserts the configured behaviour: the fallback taken, retries counted (and
waiting what ``Retry-After`` said), the breaker opened (attempts skipped) and closed
again after its cool-down, the OpenAI error shape, and the one log record per request
with its status and ``routing_attempts``.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bench.fake_providers import FakeProvider, start_fake_provider
from tests.pipeline.conftest import InProcess, closed_port, in_process
from tests.pipeline.test_routing_path import OnePolicy
from workbench.config.gateway import parse_config

KEY = "sk-fault-test-secret-0123456789abcdef"
CHAT = {"messages": [{"role": "user", "content": "tell me a story about rivers"}]}
BREAKER = {"failure_threshold": 2, "cooldown_s": 1.0, "window_s": 30, "half_open_probes": 1}
ROUTING: dict[str, Any] = {
    "routes": {
        "solo": {"mode": "single", "targets": ["primary"]},
        "safe": {"mode": "fallback", "targets": ["primary", "backup"]},
        "retrying": {
            "mode": "single",
            "targets": ["primary"],
            "retry": {"attempts": 2, "backoff_base_ms": 1, "max_retry_after_s": 5},
        },
        "retry-then-fallback": {
            "mode": "fallback",
            "retry": {"attempts": 1, "backoff_base_ms": 1, "jitter": "none"},
            "targets": ["primary", "backup"],
        },
        "impatient": {
            "mode": "fallback",
            "targets": [{"target": "primary", "timeouts": {"total": 0.3}}, "backup"],
        },
        "impatient-stream": {
            "mode": "fallback",
            "targets": [{"target": "primary", "timeouts": {"first_byte": 0.3}}, "backup"],
        },
        "impatient-solo": {
            "mode": "single",
            "targets": [{"target": "primary", "timeouts": {"total": 0.3}}],
        },
        "down-first": {"mode": "fallback", "targets": ["down", "backup"]},
        "down-only": {"mode": "single", "targets": ["down"]},
    },
    "retry": {"attempts": 0},
    "circuit_breaker": BREAKER,
}


@dataclass
class Rig:
    """Two fake OpenAI upstreams (``primary``, ``backup``), a closed port (``down``) and
    the in-process gateway routing over them."""

    primary: FakeProvider
    backup: FakeProvider
    ip: InProcess

    async def post(self, model: str, **body: Any) -> tuple[httpx.Response, dict[str, Any]]:
        """One request; its response and its (only) new log record."""
        before = len(self.ip.records)
        r = await self.ip.client.post("/v1/chat/completions", json={"model": model, **CHAT, **body})
        await r.aread()
        assert len(self.ip.records) == before + 1, "exactly one record per request"
        return r, self.ip.records[-1]

    def breaker(self, target: str) -> dict[str, Any]:
        snap: dict[str, Any] = self.ip.pipeline.routers.state.snapshot()
        return dict(snap[target])


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setenv("FAULT_TEST_KEY", KEY)
    primary = await start_fake_provider("openai")
    backup = await start_fake_provider("openai")
    remote = {"provider": "openai-compatible", "model": "fake-model"}
    cfg = parse_config(
        {
            "gateway": {"require_auth": False},
            "models": [
                {
                    "name": "primary",
                    **remote,
                    "base_url": primary.base_url,
                    "api_key_env": "FAULT_TEST_KEY",
                    "timeouts": {"connect": 1, "read": 5},
                },
                {"name": "backup", **remote, "base_url": backup.base_url},
                {
                    "name": "down",
                    **remote,
                    "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                    "timeouts": {"connect": 1, "read": 2},
                },
            ],
        }
    )
    ip = await in_process(cfg, policies=OnePolicy({"routing": ROUTING}))
    try:
        yield Rig(primary, backup, ip)
    finally:
        await ip.client.aclose()
        for t in ip.pipeline.targets.values():
            close = getattr(t.backend, "close", None)
            if close is not None:
                await close()
        await primary.stop()
        await backup.stop()


def attempts_of(rec: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(rec["routing_attempts"])
    assert rec["attempt_count"] == len(out)
    return out


def sse_events(r: httpx.Response) -> list[str]:
    return [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "code", "param"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_no_secrets(rig: Rig, *texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert f"127.0.0.1:{rig.primary.port}" not in text


# ------------------------------------------------------------------ 429 + Retry-After
async def test_429_retry_after_is_waited_then_retried(rig: Rig) -> None:
    rig.primary.set_fault(mode="429", retry_after=0.2, count=1)
    t0 = time.monotonic()
    r, rec = await rig.post("retrying")
    elapsed = time.monotonic() - t0
    assert r.status_code == 200, r.text
    assert r.headers["x-workbench-attempts"] == "2"
    first, second = attempts_of(rec)
    assert first["target"] == second["target"] == "primary"
    assert first["status"] == "upstream_rate_limited" and first["http_status"] == 429
    assert first["error_class"] == "RateLimitError" and first["retry_wait_ms"] == 0.0
    assert second["status"] == "ok" and second["reason"] == "retry"
    assert second["retry_wait_ms"] == 200.0  # the upstream's Retry-After, not a backoff
    assert elapsed >= 0.2  # the gateway really waited before the retry
    assert rig.primary.stats["requests"] == 2
    assert rec["status"] == "ok" and rec["http_status"] == 200 and rec["target"] == "primary"


async def test_429_retry_after_ms_header_wins(rig: Rig) -> None:
    rig.primary.set_fault(mode="429", retry_after=3, retry_after_ms=150, count=1)
    r, rec = await rig.post("retrying")
    assert r.status_code == 200, r.text
    waits = [a["retry_wait_ms"] for a in attempts_of(rec)]
    assert waits == [0.0, 150.0]
    assert rec["attempt_count"] == 2 and rig.primary.stats["requests"] == 2


async def test_retries_stop_when_the_breaker_opens(rig: Rig) -> None:
    # failure_threshold 2: after two 429s the breaker is open and the third try is skipped
    rig.primary.set_fault(mode="429", retry_after_ms=50)
    r, rec = await rig.post("retrying")
    assert r.status_code == 429, r.text
    assert_error_shape(r.json(), "upstream_rate_limited")
    assert [a["status"] for a in attempts_of(rec)] == [
        "upstream_rate_limited",
        "upstream_rate_limited",
        "skipped",
    ]
    assert rig.primary.stats["requests"] == 2
    assert rec["status"] == "rejected" and rec["http_status"] == 429


async def test_429_retry_after_too_long_falls_back_at_once(rig: Rig) -> None:
    # max_retry_after_s is 30 by default: a 60 s Retry-After is not worth waiting for
    rig.primary.set_fault(mode="429", retry_after=60)
    r, rec = await rig.post("retry-then-fallback")
    assert r.status_code == 200, r.text
    assert [(a["target"], a["status"]) for a in attempts_of(rec)] == [
        ("primary", "upstream_rate_limited"),
        ("backup", "ok"),
    ]
    assert rig.primary.stats["requests"] == 1
    assert r.headers["x-workbench-target"] == "backup" and rec["target"] == "backup"


# ------------------------------------------------------------------ 500 / 503
@pytest.mark.parametrize("stream", [False, True])
async def test_500_is_retried_then_falls_back(rig: Rig, stream: bool) -> None:
    rig.primary.set_fault(mode="500")
    r, rec = await rig.post("retry-then-fallback", stream=stream)
    assert r.status_code == 200, r.text
    if stream:
        assert sse_events(r)[-1] == "[DONE]"
    assert r.headers["x-workbench-target"] == "backup"
    assert r.headers["x-workbench-attempts"] == "3"
    attempts = attempts_of(rec)
    assert [(a["target"], a["status"], a["http_status"]) for a in attempts] == [
        ("primary", "upstream_error", 500),
        ("primary", "upstream_error", 500),
        ("backup", "ok", None),
    ]
    assert [a["reason"] for a in attempts] == ["primary", "retry", "fallback"]
    assert attempts[1]["retry_wait_ms"] == 1.0  # backoff_base_ms, jitter none
    assert rec["status"] == "ok" and rec["model_requested"] == "retry-then-fallback"
    assert rec["target"] == "backup" and rec["provider"] == "openai-compatible"
    assert rig.primary.stats["requests"] == 2 and rig.backup.stats["requests"] == 1


async def test_503_without_fallback_is_an_openai_error(rig: Rig) -> None:
    rig.primary.set_fault(mode="503", message="overloaded, key {key} at {url}")
    r, rec = await rig.post("solo")
    assert r.status_code == 503, r.text
    assert_error_shape(r.json(), "upstream_unavailable")
    assert r.json()["error"]["type"] == "service_unavailable"
    assert_no_secrets(rig, r.text, json.dumps(rec))
    assert rec["status"] == "error" and rec["http_status"] == 503
    assert rec["error_code"] == "upstream_unavailable"
    (only,) = attempts_of(rec)
    assert only["status"] == "upstream_unavailable" and only["http_status"] == 503


# ------------------------------------------------------------------ hang past the timeout
async def test_hang_past_the_timeout_falls_back(rig: Rig) -> None:
    rig.primary.set_fault(mode="hang", hang_s=30)
    t0 = time.monotonic()
    r, rec = await rig.post("impatient")
    assert r.status_code == 200, r.text
    assert time.monotonic() - t0 >= 0.3
    first, second = attempts_of(rec)
    assert first["target"] == "primary" and first["status"] == "upstream_timeout"
    assert first["error_class"] == "UpstreamTimeoutError"
    assert second["target"] == "backup" and second["status"] == "ok"
    assert second["reason"] == "fallback"
    assert rec["status"] == "ok" and rec["target"] == "backup"


async def test_stream_hang_before_first_byte_falls_back(rig: Rig) -> None:
    rig.primary.set_fault(mode="hang", hang_s=30)
    r, rec = await rig.post("impatient-stream", stream=True)
    assert r.status_code == 200
    assert sse_events(r)[-1] == "[DONE]"
    assert [(a["target"], a["status"]) for a in attempts_of(rec)] == [
        ("primary", "upstream_timeout"),
        ("backup", "ok"),
    ]
    assert rec["status"] == "ok" and rec["response_body"] == CHAT["messages"][0]["content"]


async def test_hang_without_fallback_is_a_504(rig: Rig) -> None:
    rig.primary.set_fault(mode="hang", hang_s=30)
    r, rec = await rig.post("impatient-solo")
    assert r.status_code == 504, r.text
    assert_error_shape(r.json(), "upstream_timeout")
    assert rec["status"] == "error" and rec["http_status"] == 504
    assert rec["error_code"] == "upstream_timeout"
    (only,) = attempts_of(rec)
    assert only["status"] == "upstream_timeout" and only["target"] == "primary"


# ------------------------------------------------------------------ dropped connection
async def test_drop_mid_body_falls_back(rig: Rig) -> None:
    rig.primary.set_fault(mode="drop_mid_stream")
    r, rec = await rig.post("safe")
    assert r.status_code == 200, r.text
    first, second = attempts_of(rec)
    assert first["target"] == "primary" and first["status"] == "upstream_unreachable"
    assert first["error_class"] == "UpstreamConnectionError"
    assert second["target"] == "backup" and second["status"] == "ok"
    assert rec["status"] == "ok"


async def test_drop_mid_stream_after_first_byte_is_an_sse_error(rig: Rig) -> None:
    rig.primary.set_fault(mode="drop_mid_stream")
    r, rec = await rig.post("safe", stream=True)
    assert r.status_code == 200  # the stream had started: the status line was sent
    events = sse_events(r)
    assert "[DONE]" not in events
    assert_error_shape(json.loads(events[-1]), "upstream_stream_broken")
    assert_no_secrets(rig, r.text)
    # text that had arrived before the drop reached the client, then the error
    text = "".join(
        (json.loads(e)["choices"] or [{}])[0].get("delta", {}).get("content") or ""
        for e in events[:-1]
    )
    assert text and "tell me a story about rivers".startswith(text)
    assert rec["status"] == "error" and rec["http_status"] == 200
    assert rec["error_code"] == "upstream_stream_broken"
    assert rec["response_body"] == text
    (only,) = attempts_of(rec)  # no fallback once bytes went out
    assert only["target"] == "primary" and only["after_first_byte"] is True
    assert only["status"] == "upstream_stream_broken"
    assert rig.breaker("primary")["failed"] == 1  # counted against the target
    assert rig.backup.stats["requests"] == 0


# ------------------------------------------------------------------ malformed answers
async def test_malformed_json_falls_back(rig: Rig) -> None:
    rig.primary.set_fault(mode="malformed_json")
    r, rec = await rig.post("safe")
    assert r.status_code == 200, r.text
    first, second = attempts_of(rec)
    assert first["status"] == "upstream_malformed"
    assert first["error_class"] == "UpstreamMalformedError"
    assert second["target"] == "backup" and second["status"] == "ok"
    assert r.json()["choices"][0]["message"]["content"] == CHAT["messages"][0]["content"]


async def test_malformed_json_without_fallback_is_a_502(rig: Rig) -> None:
    rig.primary.set_fault(mode="malformed_json")
    r, rec = await rig.post("solo")
    assert r.status_code == 502, r.text
    assert_error_shape(r.json(), "upstream_malformed")
    assert_no_secrets(rig, r.text, json.dumps(rec))
    assert rec["status"] == "error" and rec["http_status"] == 502
    assert rec["error_code"] == "upstream_malformed"


async def test_malformed_sse_chunk_is_an_sse_error(rig: Rig) -> None:
    rig.primary.set_fault(mode="malformed_sse")
    r, rec = await rig.post("safe", stream=True)
    assert r.status_code == 200
    events = sse_events(r)
    assert "[DONE]" not in events
    assert_error_shape(json.loads(events[-1]), "upstream_malformed")
    assert rec["status"] == "error" and rec["error_code"] == "upstream_malformed"
    (only,) = attempts_of(rec)
    assert only["after_first_byte"] is True and only["status"] == "upstream_malformed"


# ------------------------------------------------------------------ upstream down
@pytest.mark.parametrize("stream", [False, True])
async def test_down_falls_back(rig: Rig, stream: bool) -> None:
    r, rec = await rig.post("down-first", stream=stream)
    assert r.status_code == 200, r.text
    assert [(a["target"], a["status"], a["error_class"]) for a in attempts_of(rec)] == [
        ("down", "upstream_unreachable", "UpstreamConnectionError"),
        ("backup", "ok", None),
    ]
    assert rec["status"] == "ok" and rec["target"] == "backup"


async def test_down_without_fallback_is_a_502(rig: Rig) -> None:
    r, rec = await rig.post("down-only")
    assert r.status_code == 502, r.text
    assert_error_shape(r.json(), "upstream_unreachable")
    assert "127.0.0.1" not in r.text
    assert rec["status"] == "error" and rec["http_status"] == 502
    assert rec["error_code"] == "upstream_unreachable"


# ------------------------------------------------------------------ circuit breaker
async def test_breaker_opens_then_closes_after_cooldown(rig: Rig) -> None:
    rig.primary.set_fault(mode="500")
    for _ in range(2):  # failure_threshold 2: the second failure opens it
        r, rec = await rig.post("safe")
        assert r.status_code == 200 and rec["target"] == "backup"
    assert rig.breaker("primary")["breaker"] == "open"
    assert rig.primary.stats["requests"] == 2

    r, rec = await rig.post("safe")  # open: primary skipped, not called
    assert r.status_code == 200
    skipped, served = attempts_of(rec)
    assert skipped == {**skipped, "target": "primary", "status": "skipped"}
    assert skipped["reason"] == "breaker_open" and skipped["latency_ms"] is None
    assert served["target"] == "backup" and served["status"] == "ok"
    assert rig.primary.stats["requests"] == 2

    await asyncio.sleep(1.05)  # cool-down over: one half-open probe, which fails
    r, rec = await rig.post("safe")
    assert [(a["target"], a["status"]) for a in attempts_of(rec)] == [
        ("primary", "upstream_error"),
        ("backup", "ok"),
    ]
    assert rig.breaker("primary")["breaker"] == "open"  # the failed probe re-opened it

    rig.primary.set_fault(mode="ok")
    await asyncio.sleep(1.05)
    r, rec = await rig.post("safe")  # the probe succeeds: closed again
    assert [(a["target"], a["status"]) for a in attempts_of(rec)] == [("primary", "ok")]
    assert rig.breaker("primary")["breaker"] == "closed"
    r, rec = await rig.post("safe")
    assert rec["target"] == "primary" and rec["attempt_count"] == 1


async def test_all_targets_open_is_a_503(rig: Rig) -> None:
    rig.primary.set_fault(mode="500")
    for _ in range(2):
        r, _rec = await rig.post("solo")
        assert r.status_code == 502
    r, rec = await rig.post("solo")
    assert r.status_code == 503, r.text
    assert_error_shape(r.json(), "circuit_open")
    assert rec["status"] == "error" and rec["error_code"] == "circuit_open"
    (only,) = attempts_of(rec)
    assert only["status"] == "skipped" and only["reason"] == "breaker_open"


# ------------------------------------------------------------------ bounded load
async def test_bounded_load_with_a_failing_primary(rig: Rig) -> None:
    """60 requests, 8 at a time, streamed and not: no client-visible error, one record
    per request id, every one served by the fallback or (while closed) the primary."""
    rig.primary.set_fault(mode="500")
    n, sem = 60, asyncio.Semaphore(8)

    async def one(i: int) -> tuple[int, str, str]:
        async with sem:
            body = {"model": "safe", **CHAT, "stream": i % 2 == 1}
            r = await rig.ip.client.post("/v1/chat/completions", json=body)
            done = r.status_code == 200 and (i % 2 == 0 or sse_events(r)[-1] == "[DONE]")
            return r.status_code if done else -1, r.headers["x-workbench-request-id"], r.text

    results = await asyncio.gather(*(one(i) for i in range(n)))
    assert [s for s, _, _ in results] == [200] * n, [t for s, _, t in results if s != 200][:3]
    ids = [rid for _, rid, _ in results]
    logged = [rec["request_id"] for rec in rig.ip.records]
    assert sorted(logged) == sorted(ids) and len(set(ids)) == n
    assert all(rec["status"] == "ok" and rec["target"] == "backup" for rec in rig.ip.records)
    # the breaker spared the primary most of the load
    assert rig.primary.stats["requests"] < n
