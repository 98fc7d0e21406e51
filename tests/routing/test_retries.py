"""Retries, backoff, Retry-After, the request time budget and per-attempt timeouts."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from tests.routing._fakes import Timeouts, infos, make_router, upstream_error
from workbench.errors import (
    RateLimitError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
)
from workbench.routing import (
    Attempt,
    LocalRoutingState,
    RetryPolicy,
    Router,
    RouteRequest,
    RoutingConfig,
    TargetInfo,
)
from workbench.routing.outcome import retry_wait_s

SMART = {"mode": "fallback", "targets": ["a", "b"]}


def routing(retry: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"routes": {"smart": SMART}, "retry": retry, **extra}


async def test_retries_with_exponential_backoff_then_success() -> None:
    cfg = routing({"attempts": 3, "jitter": "none", "backoff_base_ms": 100})
    router, up, _, clock = make_router(cfg, "a", "b")
    up.script = {"a": [upstream_error(UpstreamError, 503)] * 3 + ["ok"]}
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(RouteRequest("smart"), up, attempts)
    assert clock.sleeps == pytest.approx([0.1, 0.2, 0.4])
    assert (attempt.target, attempt.retry, attempt.number, attempt.reason) == ("a", 3, 4, "retry")
    assert [(a["reason"], a["retry_wait_ms"]) for a in attempts] == [
        ("primary", 0.0),
        ("retry", 100.0),
        ("retry", 200.0),
        ("retry", 400.0),
    ]
    assert [a.retry for a in up.seen] == [0, 1, 2, 3]


async def test_retries_run_out_then_fallback() -> None:
    router, up, _, clock = make_router(routing({"attempts": 2}), "a", "b")
    up.script = {"a": [UpstreamConnectionError("refused")]}
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(RouteRequest("smart"), up, attempts)
    assert up.targets() == ["a", "a", "a", "b"] and attempt.target == "b"
    assert [a["reason"] for a in attempts] == ["primary", "retry", "retry", "fallback"]
    assert attempt.retry == 0 and attempt.number == 4
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (upstream_error(UpstreamError, 503), True),
        (upstream_error(RateLimitError, 429), True),
        (UpstreamTimeoutError("slow"), True),
        (UpstreamConnectionError("refused"), True),
        (UpstreamMalformedError("garbled"), False),  # not in the default on_errors
        (upstream_error(UpstreamError, 400), False),
    ],
)
async def test_what_is_retried(error: Exception, retried: bool) -> None:
    router, up, _, _ = make_router(routing({"attempts": 1}), "a", "b")
    up.script = {"a": [error, "ok"]}
    if retried:
        attempt, _ = await router.execute(RouteRequest("a"), up, [])
        assert attempt.retry == 1 and up.targets() == ["a", "a"]
    else:
        with pytest.raises(type(error)):
            await router.execute(RouteRequest("a"), up, [])
        assert up.targets() == ["a"]


def test_backoff_with_full_jitter_stays_under_the_ceiling() -> None:
    policy = RetryPolicy(backoff_base_ms=100, backoff_max_ms=1000)
    rng = random.Random(3)
    for retry, ceiling in ((1, 0.1), (2, 0.2), (3, 0.4), (4, 0.8), (5, 1.0), (9, 1.0)):
        waits = [retry_wait_s(policy, retry, None, rng) for _ in range(200)]
        assert all(w is not None and 0 <= w <= ceiling for w in waits)
        assert max(w for w in waits if w is not None) > 0.8 * ceiling  # jitter spans the range
        assert len(set(waits)) > 150


def test_retry_after_is_honoured_exactly_and_capped() -> None:
    policy = RetryPolicy(max_retry_after_s=30)
    rng = random.Random(0)
    assert retry_wait_s(policy, 1, 7.5, rng) == 7.5
    assert retry_wait_s(policy, 1, 31.0, rng) is None  # not worth waiting: move on
    ignoring = RetryPolicy(use_retry_after_header=False, jitter="none", backoff_base_ms=50)
    assert retry_wait_s(ignoring, 1, 7.5, rng) == pytest.approx(0.05)


async def test_router_waits_the_upstreams_retry_after() -> None:
    router, up, _, clock = make_router(routing({"attempts": 1}), "a", "b")
    up.script = {"a": [upstream_error(RateLimitError, 429, retry_after_s=2.5), "ok"]}
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(RouteRequest("smart"), up, attempts)
    assert clock.sleeps == [2.5] and attempt.target == "a" and attempt.retry == 1
    assert attempts[1]["retry_wait_ms"] == 2500.0
    assert attempts[0]["http_status"] == 429 and attempts[0]["status"] == "rate_limit_exceeded"


async def test_a_retry_after_above_the_cap_moves_on_at_once() -> None:
    router, up, _, clock = make_router(routing({"attempts": 3, "max_retry_after_s": 10}), "a", "b")
    up.script = {"a": [upstream_error(RateLimitError, 429, retry_after_s=60)]}
    attempt, _ = await router.execute(RouteRequest("smart"), up, [])
    assert clock.sleeps == [] and up.targets() == ["a", "b"] and attempt.target == "b"


async def test_never_sleeps_past_the_request_budget() -> None:
    cfg = routing({"attempts": 5, "max_retry_after_s": 60}, request_timeout_s=10)
    router, up, _, clock = make_router(cfg, "a", "b")
    up.script = {
        "a": [
            (4.0, upstream_error(RateLimitError, 429, retry_after_s=3)),
            (1.0, upstream_error(RateLimitError, 429, retry_after_s=3)),
        ]
    }
    start = clock.now
    attempt, _ = await router.execute(RouteRequest("smart"), up, [])
    # a fails at 4 s and asks for 3 s: waited (7 s). Its retry gets the 3 s left as its
    # total, fails at 8 s asking for 3 s more: that would pass the 10 s budget, so no
    # wait: b answers at once with the 2 s that are left.
    assert clock.sleeps == [3]
    assert up.targets() == ["a", "a", "b"]
    assert [a.timeouts.total for a in up.seen] == pytest.approx([10.0, 3.0, 2.0])
    assert attempt.target == "b"
    assert clock.now - start == pytest.approx(8.0)


async def test_budget_exhausted_raises_the_last_upstream_error() -> None:
    cfg = {
        "routes": {"smart": {"mode": "fallback", "targets": ["a", "b", "c"]}},
        "request_timeout_s": 5,
    }
    router, up, _, _ = make_router(cfg, "a", "b", "c")
    last = UpstreamTimeoutError("b was slow")
    up.script = {"a": [(2.0, upstream_error(UpstreamError, 503))], "b": [(3.0, last)]}
    attempts: list[dict[str, Any]] = []
    with pytest.raises(UpstreamTimeoutError) as info:
        await router.execute(RouteRequest("smart"), up, attempts)
    assert info.value is last and up.targets() == ["a", "b"]  # no time left for c
    assert up.seen[1].timeouts.total == pytest.approx(3.0)
    assert up.seen[1].deadline == up.seen[0].deadline


def test_attempt_timeouts_from_target_override_and_budget() -> None:
    from workbench.routing.config import TimeoutOverride
    from workbench.routing.run import attempt_timeouts

    info = TargetInfo("a", "fake", None, Timeouts(connect=5, read=120, first_byte=None))
    t = attempt_timeouts(info, None, 60)
    assert (t.connect, t.first_byte, t.total) == (5, 60, 60)  # read 120 clipped to budget
    info2 = TargetInfo("a", "fake", None, Timeouts(connect=2, read=30, first_byte=8, total=40))
    t = attempt_timeouts(info2, None, 60)
    assert (t.connect, t.first_byte, t.total) == (2, 8, 40)
    t = attempt_timeouts(info2, TimeoutOverride(first_byte=3, total=20), 60)
    assert (t.connect, t.first_byte, t.total) == (2, 3, 20)
    t = attempt_timeouts(info2, TimeoutOverride(total=20), 1.5)
    assert (t.connect, t.first_byte, t.total) == (1.5, 1.5, 1.5)
    bare = TargetInfo("a", "fake", None, None)
    t = attempt_timeouts(bare, None, 10)
    assert (t.connect, t.first_byte, t.total) == (5, 10, 10)


async def test_node_timeouts_are_inherited_and_overridden_per_field() -> None:
    cfg = {
        "routes": {
            "smart": {
                "mode": "fallback",
                "timeouts": {"first_byte": 4, "total": 50},
                "targets": [{"target": "a", "timeouts": {"total": 20}}, "b"],
            }
        }
    }
    router, up, _, _ = make_router(cfg, "a", "b")
    up.script = {"a": [UpstreamTimeoutError("slow")]}
    await router.execute(RouteRequest("smart"), up, [])
    a, b = up.seen
    assert (a.timeouts.first_byte, a.timeouts.total) == (4, 20)
    assert (b.timeouts.first_byte, b.timeouts.total) == (4, 50)


async def test_node_retry_overrides_the_sections() -> None:
    cfg = {
        "routes": {
            "smart": {
                "mode": "fallback",
                "targets": [{"target": "a", "retry": {"attempts": 2, "jitter": "none"}}, "b"],
            }
        },
        "retry": {"attempts": 0},
    }
    router, up, _, _ = make_router(cfg, "a", "b")
    up.script = {
        "a": [upstream_error(UpstreamError, 500)],
        "b": [upstream_error(UpstreamError, 500)],
    }
    with pytest.raises(UpstreamError):
        await router.execute(RouteRequest("smart"), up, [])
    assert up.targets() == ["a", "a", "a", "b"]


async def test_the_router_cuts_off_an_attempt_at_its_total_timeout() -> None:
    # Real time here: the router's own guard is an asyncio timeout.
    state = LocalRoutingState()
    router = Router(
        RoutingConfig.model_validate({"routes": {"smart": SMART}, "request_timeout_s": 0.2}),
        infos("a", "b"),
        state,
    )
    hung = asyncio.Event()

    async def call(attempt: Attempt) -> str:
        if attempt.target == "a":
            await hung.wait()  # never set: an upstream that ignores its timeouts
        return attempt.target

    attempts: list[dict[str, Any]] = []
    with pytest.raises(UpstreamTimeoutError, match="timed out"):
        await router.execute(RouteRequest("smart"), call, attempts)
    assert [a["status"] for a in attempts] == ["upstream_timeout"]
    assert attempts[0]["error_class"] == "UpstreamTimeoutError"
    assert state.snapshot()["a"]["window_failures"] == 1


async def test_a_cancelled_request_leaves_a_cancelled_attempt_and_no_breaker_count() -> None:
    state = LocalRoutingState()
    router = Router(None, infos("a"), state)
    started = asyncio.Event()

    async def call(attempt: Attempt) -> str:
        started.set()
        await asyncio.Event().wait()
        return "never"

    attempts: list[dict[str, Any]] = []
    task = asyncio.create_task(router.execute(RouteRequest("a"), call, attempts))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert attempts[0]["status"] == "cancelled"
    snap = state.snapshot()["a"]
    assert (snap["window_requests"], snap["ok"], snap["failed"]) == (0, 0, 0)
