"""Fault tests, continued: the circuit breaker opens (attempts skipped, the upstream
spared), re-opens on a failed half-open probe, closes after its cool-down, and a bounded
load against a failing primary shows no client error and one record per request.
"""

from __future__ import annotations

import asyncio

from tests.pipeline.fault_rig import (
    CHAT,
    Rig,
    assert_error_shape,
    attempts_of,
    rig,
    sse_events,
)

__all__ = ["rig"]  # the fixture, imported for pytest


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
