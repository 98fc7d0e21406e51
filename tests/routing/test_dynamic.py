"""least-latency and least-cost: warm-up, switching, the tolerance band, prices."""

from __future__ import annotations

from typing import Any

import pytest

from tests.routing._fakes import make_router
from workbench.routing import RouteRequest


def dynamic(mode: str, targets: list[str], **settings: Any) -> dict[str, Any]:
    return {"routes": {"r": {"mode": mode, "targets": targets}}, "dynamic": settings}


async def test_warm_up_takes_turns_then_the_fastest_wins() -> None:
    cfg = dynamic("least-latency", ["a", "b", "c"], warmup_requests=2, ewma_alpha=0.5)
    router, up, state, _ = make_router(cfg, "a", "b", "c")
    up.script = {"a": [0.3], "b": [0.1], "c": [0.2]}
    for _ in range(9):
        attempt, _ = await router.execute(RouteRequest("r"), up, [])
        assert attempt.reason == "least-latency"
    assert up.targets() == ["a", "b", "c", "a", "b", "c", "b", "b", "b"]
    assert state.latency_ms("b") == pytest.approx(100.0)
    assert state.samples("b") == 5


@pytest.mark.parametrize("tolerance", [0.15, 0.0])
async def test_tolerance_band_keeps_the_current_pick(tolerance: float) -> None:
    cfg = dynamic(
        "least-latency", ["a", "b"], warmup_requests=1, tolerance=tolerance, ewma_alpha=1.0
    )
    router, up, state, _ = make_router(cfg, "a", "b")
    up.script = {"a": [0.1], "b": [0.08]}

    def measured(name: str, ms: float) -> None:
        state.record(name, True, ms, False, ewma_alpha=1.0)

    async def pick() -> str:
        attempt, _ = await router.execute(RouteRequest("r"), up, [])
        return attempt.target

    measured("a", 100.0)
    measured("b", 200.0)
    assert await pick() == "a"
    measured("b", 90.0)  # 10 % faster than a
    assert await pick() == ("a" if tolerance else "b")
    measured("b", 80.0)  # 20 % faster than a: switch
    measured("a", 100.0)
    assert await pick() == "b"
    measured("a", 75.0)  # a is 6 % faster than b now
    assert await pick() == ("b" if tolerance else "a")


async def test_least_latency_falls_to_the_next_fastest_when_a_breaker_is_open() -> None:
    cfg = dynamic("least-latency", ["a", "b", "c"], warmup_requests=0)
    cfg["circuit_breaker"] = {"failure_threshold": 1}
    router, up, state, _ = make_router(cfg, "a", "b", "c")
    for name, ms in (("a", 50.0), ("b", 70.0), ("c", 90.0)):
        state.record(name, True, ms, False)
    state.record("a", False, None, True, router.config.circuit_breaker)
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(RouteRequest("r"), up, attempts)
    assert attempt.target == "b"
    assert [(a["target"], a["status"]) for a in attempts] == [("a", "skipped"), ("b", "ok")]


def test_least_cost_order_band_then_price_then_unknown() -> None:
    cfg = dynamic("least-cost", ["a", "b", "c", "d"], warmup_requests=0, tolerance=0.15)
    router, _, state, _ = make_router(
        cfg, "a", "b", "c", "d", costs={"a": 10.0, "b": 1.0, "c": 1.1}
    )
    state.record("b", True, 200.0, False)
    state.record("c", True, 100.0, False)
    assert router.selector.by_cost(1, ["a", "b", "c", "d"]) == ["c", "b", "a", "d"]
    assert router.selector.by_cost(2, ["d", "a"]) == ["a", "d"]


async def test_least_cost_picks_the_cheapest() -> None:
    cfg = dynamic("least-cost", ["pricey", "cheap", "mid"], warmup_requests=0, tolerance=0.05)
    router, up, _, _ = make_router(
        cfg, "pricey", "cheap", "mid", costs={"pricey": 15.0, "cheap": 0.6, "mid": 2.5}
    )
    for _ in range(5):
        attempt, _ = await router.execute(RouteRequest("r"), up, [])
        assert (attempt.target, attempt.reason) == ("cheap", "least-cost")


async def test_least_cost_without_prices_is_least_latency() -> None:
    cfg = dynamic("least-cost", ["a", "b"], warmup_requests=0)
    router, up, state, _ = make_router(cfg, "a", "b")
    state.record("a", True, 300.0, False)
    state.record("b", True, 100.0, False)
    attempt, _ = await router.execute(RouteRequest("r"), up, [])
    assert attempt.target == "b"


async def test_dynamic_strategy_inside_a_fallback_fails_over() -> None:
    cfg = {
        "routes": {
            "r": {
                "mode": "fallback",
                "targets": [{"mode": "least-latency", "targets": ["a", "b"]}, "c"],
            }
        },
        "dynamic": {"warmup_requests": 0},
    }
    router, up, state, _ = make_router(cfg, "a", "b", "c")
    from workbench.errors import UpstreamError

    up.script = {"a": [UpstreamError("down", upstream_status=503)]}
    state.record("a", True, 10.0, False)
    state.record("b", True, 20.0, False)
    attempts: list[dict[str, Any]] = []
    attempt, _ = await router.execute(RouteRequest("r"), up, attempts)
    assert attempt.target == "c"
    assert [(a["target"], a["reason"]) for a in attempts] == [
        ("a", "least-latency"),
        ("c", "fallback"),
    ]
