"""The circuit breaker: the state machine alone, and as every strategy sees it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing._fakes import FakeClock, make_router, upstream_error
from workbench.errors import (
    InvalidRequestError,
    ServiceUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)
from workbench.routing import CircuitBreakerConfig, LocalRoutingState, RouteRequest
from workbench.routing.breaker import Breaker, TargetHealth

CFG = CircuitBreakerConfig(
    failure_threshold=3, failure_rate=0.5, window_s=10, min_requests=6, cooldown_s=5
)


def test_opens_on_the_failure_count_in_the_window() -> None:
    b = Breaker()
    b.record(0.0, True, CFG)
    b.record(1.0, True, CFG)
    assert b.phase(1.0, CFG) == "closed" and b.allow(1.0, CFG)
    b.record(2.0, True, CFG)
    assert b.phase(2.0, CFG) == "open" and not b.allow(2.0, CFG)


def test_old_failures_leave_the_window() -> None:
    b = Breaker()
    b.record(0.0, True, CFG)
    b.record(1.0, True, CFG)
    b.record(12.0, True, CFG)  # the first two are older than window_s
    assert b.phase(12.0, CFG) == "closed"
    assert b.counts(12.0, CFG) == (1, 1)


def test_opens_on_the_failure_rate_once_min_requests() -> None:
    cfg = CFG.model_copy(update={"failure_threshold": 100})
    b = Breaker()
    for t, fail in enumerate([False, True, False, True, True]):
        b.record(float(t), fail, cfg)
    assert b.phase(5.0, cfg) == "closed"  # 3/5 failed but under min_requests
    b.record(5.0, False, cfg)  # 6 requests, 3 failures: 50 %, but a success never trips
    assert b.phase(5.0, cfg) == "closed"
    b.record(6.0, True, cfg)  # 7 requests, 4 failures: 57 %
    assert b.phase(6.0, cfg) == "open"


def test_half_open_probe_success_closes() -> None:
    b = Breaker()
    for t in range(3):
        b.record(float(t), True, CFG)
    assert not b.allow(6.9, CFG)  # opened at 2.0, cooling down until 7.0
    assert b.phase(7.0, CFG) == "half_open"
    assert b.allow(7.0, CFG)  # the probe
    assert not b.allow(7.1, CFG)  # only one at a time
    b.record(7.5, False, CFG)
    assert b.phase(7.5, CFG) == "closed" and b.allow(7.5, CFG)
    assert b.counts(7.5, CFG) == (0, 0)  # a fresh window


def test_half_open_probe_failure_reopens_for_another_cooldown() -> None:
    b = Breaker()
    for t in range(3):
        b.record(float(t), True, CFG)
    assert b.allow(7.0, CFG)
    b.record(8.0, True, CFG)
    assert b.phase(8.0, CFG) == "open" and not b.allow(12.9, CFG)
    assert b.allow(13.0, CFG)


def test_a_lost_probe_frees_its_slot_after_a_cooldown() -> None:
    b = Breaker()
    for t in range(3):
        b.record(float(t), True, CFG)
    assert b.allow(7.0, CFG)
    assert not b.allow(11.9, CFG)
    assert b.allow(12.0, CFG)


def test_results_of_requests_in_flight_while_open_are_ignored() -> None:
    b = Breaker()
    for t in range(3):
        b.record(float(t), True, CFG)
    b.record(3.0, False, CFG)  # started before it opened
    assert b.phase(3.0, CFG) == "open" and b.opened_at == 2.0


def test_several_probes_must_all_succeed() -> None:
    cfg = CFG.model_copy(update={"half_open_probes": 2})
    b = Breaker()
    for t in range(3):
        b.record(float(t), True, cfg)
    assert b.allow(7.0, cfg) and b.allow(7.0, cfg) and not b.allow(7.0, cfg)
    b.record(7.2, False, cfg)
    assert b.phase(7.2, cfg) == "half_open"
    b.record(7.3, False, cfg)
    assert b.phase(7.3, cfg) == "closed"


def test_disabled_breaker_never_opens() -> None:
    cfg = CFG.model_copy(update={"enabled": False})
    b = Breaker()
    for t in range(20):
        b.record(float(t), True, cfg)
    assert b.allow(20.0, cfg) and b.phase(20.0, cfg) == "closed"


def test_health_round_trips_and_keeps_local_probes() -> None:
    h = TargetHealth()
    for t in range(3):
        h.record(float(t), ok=False, latency_ms=None, breaker_failure=True, cfg=CFG, alpha=0.5)
    h.record(3.0, ok=True, latency_ms=100.0, breaker_failure=False, cfg=CFG, alpha=0.5)
    again = TargetHealth.from_dict(h.to_dict(), probes=[9.0])
    assert again.to_dict() == h.to_dict() and again.breaker.probes == [9.0]
    assert h.latency_ms == 100.0 and h.samples == 1


def test_ewma_latency() -> None:
    state = LocalRoutingState(ewma_alpha=0.5, clock=FakeClock())
    for latency in (100.0, 200.0, 400.0):
        state.record("a", True, latency, False)
    assert state.latency_ms("a") == pytest.approx(275.0)  # 100 -> 150 -> 275
    assert state.samples("a") == 3 and state.latency_ms("b") is None and state.samples("b") == 0


# -- through the router ---------------------------------------------------------------

BREAKER = {"failure_threshold": 2, "window_s": 30, "min_requests": 10, "cooldown_s": 15}


async def test_open_breaker_is_skipped_then_half_open_probe_closes_it() -> None:
    cfg = {
        "routes": {"smart": {"mode": "fallback", "targets": ["a", "b"]}},
        "circuit_breaker": BREAKER,
    }
    router, up, state, clock = make_router(cfg, "a", "b")
    up.script = {"a": [upstream_error(UpstreamError, 503)]}
    for _ in range(2):
        await router.execute(RouteRequest("smart"), up, [])
    assert state.snapshot()["a"]["breaker"] == "open"

    up.seen.clear()
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(RouteRequest("smart"), up, attempts)
    assert up.targets() == ["b"] and attempt.number == 1
    assert attempts[0] == {
        "target": "a",
        "provider": "fake",
        "status": "skipped",
        "http_status": None,
        "latency_ms": None,
        "error_class": None,
        "retry_wait_ms": 0.0,
        "reason": "breaker_open",
    }

    clock.now += 15  # cool-down over: one probe goes to a
    up.script = {"a": ["ok"]}
    up.seen.clear()
    assert state.snapshot()["a"]["breaker"] == "half_open"
    attempt, _ = await router.execute(RouteRequest("smart"), up, [])
    assert attempt.target == "a" and state.snapshot()["a"]["breaker"] == "closed"


async def test_failed_probe_reopens() -> None:
    cfg = {
        "routes": {"smart": {"mode": "fallback", "targets": ["a", "b"]}},
        "circuit_breaker": BREAKER,
    }
    router, up, state, clock = make_router(cfg, "a", "b")
    up.script = {"a": [UpstreamTimeoutError("slow")]}
    for _ in range(2):
        await router.execute(RouteRequest("smart"), up, [])
    clock.now += 15
    up.seen.clear()
    await router.execute(RouteRequest("smart"), up, [])
    assert up.targets() == ["a", "b"]
    assert state.snapshot()["a"]["breaker"] == "open"


@pytest.mark.parametrize("mode", ["loadbalance", "least-latency", "least-cost", "fallback"])
async def test_every_strategy_skips_an_open_breaker(mode: str) -> None:
    cfg = {"routes": {"r": {"mode": mode, "targets": ["a", "b"]}}, "circuit_breaker": BREAKER}
    router, up, state, _ = make_router(cfg, "a", "b", costs={"a": 1.0, "b": 5.0})
    for _ in range(2):
        state.record("a", False, None, True, router.config.circuit_breaker)
    for _ in range(20):
        attempt, _ = await router.execute(RouteRequest("r"), up, [])
        assert attempt.target == "b"
    assert "a" not in up.targets()


async def test_conditional_branch_with_open_breaker_is_skipped() -> None:
    cfg = {
        "routes": {
            "r": {
                "mode": "fallback",
                "targets": [
                    {
                        "mode": "conditional",
                        "conditions": [{"when": {"user": "x"}, "then": "a"}],
                        "default": "a",
                    },
                    "b",
                ],
            }
        },
        "circuit_breaker": BREAKER,
    }
    router, up, state, _ = make_router(cfg, "a", "b")
    for _ in range(2):
        state.record("a", False, None, True, router.config.circuit_breaker)
    attempt, _ = await router.execute(RouteRequest("r", user="x"), up, [])
    assert attempt.target == "b"


async def test_all_breakers_open_is_service_unavailable() -> None:
    cfg = {"routes": {"r": {"mode": "fallback", "targets": ["a", "b"]}}, "circuit_breaker": BREAKER}
    router, up, state, _ = make_router(cfg, "a", "b")
    for name in ("a", "b"):
        for _ in range(2):
            state.record(name, False, None, True, router.config.circuit_breaker)
    attempts: list[dict[str, Any]] = []
    with pytest.raises(ServiceUnavailableError, match=r"all targets unavailable \(circuit open\)"):
        await router.execute(RouteRequest("r"), up, attempts)
    assert [a["status"] for a in attempts] == ["skipped", "skipped"] and up.seen == []


async def test_breaker_opening_during_retries_stops_them() -> None:
    cfg = {"retry": {"attempts": 5}, "circuit_breaker": BREAKER}
    router, up, _, _ = make_router(cfg, "a")
    up.script = {"a": [upstream_error(UpstreamError, 500)]}
    attempts: list[dict[str, Any]] = []
    with pytest.raises(UpstreamError):
        await router.execute(RouteRequest("a"), up, attempts)
    assert [a["status"] for a in attempts] == ["upstream_error", "upstream_error", "skipped"]


async def test_client_errors_do_not_count_against_the_breaker() -> None:
    router, up, state, _ = make_router({"circuit_breaker": BREAKER}, "a")
    for error in [InvalidRequestError("bad"), upstream_error(UpstreamError, 404)] * 3:
        up.script = {"a": [error]}
        with pytest.raises(type(error)):
            await router.execute(RouteRequest("a"), up, [])
    assert state.snapshot()["a"]["breaker"] == "closed"
    assert state.snapshot()["a"]["window_failures"] == 0


async def test_the_default_breaker_is_on_without_a_config() -> None:
    router, up, state, _ = make_router(None, "a")
    up.script = {"a": [upstream_error(UpstreamError, 502)]}
    for _ in range(5):
        with pytest.raises(UpstreamError):
            await router.execute(RouteRequest("a"), up, [])
    with pytest.raises(ServiceUnavailableError):
        await router.execute(RouteRequest("a"), up, [])
    assert len(up.seen) == 5 and state.snapshot()["a"]["breaker"] == "open"
