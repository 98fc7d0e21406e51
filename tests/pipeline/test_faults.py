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

import json
import time

import pytest

from tests.pipeline.fault_rig import (
    CHAT,
    Rig,
    assert_error_shape,
    assert_no_secrets,
    attempts_of,
    rig,
    sse_events,
)

__all__ = ["rig"]  # the fixture, imported for pytest


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
