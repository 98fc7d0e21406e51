"""SharedRoutingState against a real local Ray: replicas agree through RoutingStateActor.

Run under the machine's Ray lock: ``flock /tmp/ray.lock .venv/bin/python -m pytest
tests/serve/test_routing_state.py``.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import ray

from serve.routing_state import NAMESPACE, SharedRoutingState
from tests.routing._fakes import FakeClock, make_router, upstream_error
from workbench.errors import UpstreamError
from workbench.routing import CircuitBreakerConfig, RouteRequest

CFG = CircuitBreakerConfig(failure_threshold=3, window_s=30, min_requests=10, cooldown_s=15)


def pair(clock: FakeClock) -> tuple[SharedRoutingState, SharedRoutingState, str]:
    name = f"routing-state-{uuid.uuid4().hex[:8]}"
    # Synced by hand (no background task) so the test decides when replicas talk.
    a = SharedRoutingState(name=name, breaker=CFG, clock=clock, autostart=False)
    b = SharedRoutingState(name=name, breaker=CFG, clock=clock, autostart=False)
    return a, b, name


async def test_a_breaker_opened_by_one_replica_is_seen_by_the_other(local_ray: None) -> None:
    clock = FakeClock(1_000_000.0)
    a, b, _ = pair(clock)
    assert await a.sync_now() and await b.sync_now()
    for _ in range(3):
        assert a.allow("up", CFG)
        a.record("up", False, None, True, CFG)
    assert not a.allow("up", CFG)
    assert b.allow("up", CFG)  # b has not heard yet
    assert await a.sync_now()
    assert b.allow("up", CFG)  # still not: b pulls on its own sync
    assert await b.sync_now()
    assert not b.allow("up", CFG)
    assert b.snapshot()["up"]["breaker"] == "open"

    clock.now += 15  # cool-down over: b probes, the probe succeeds, a learns it closed
    assert b.allow("up", CFG)
    b.record("up", True, 12.0, False, CFG)
    assert b.snapshot()["up"]["breaker"] == "closed"
    assert a.snapshot()["up"]["breaker"] == "half_open"
    assert await b.sync_now() and await a.sync_now()
    assert a.snapshot()["up"]["breaker"] == "closed" and a.allow("up", CFG)


async def test_latency_samples_merge_across_replicas(local_ray: None) -> None:
    clock = FakeClock(2_000_000.0)
    a, b, _ = pair(clock)
    a.record("m", True, 100.0, False, CFG, 0.5)
    b.record("m", True, 300.0, False, CFG, 0.5)
    assert await a.sync_now() and await b.sync_now() and await a.sync_now()
    for state in (a, b):
        assert state.samples("m") == 2
        assert state.latency_ms("m") == pytest.approx(200.0)  # 100, then 0.5*300 + 0.5*100


async def test_results_recorded_during_a_sync_are_not_lost(local_ray: None) -> None:
    clock = FakeClock(3_000_000.0)
    a, b, _ = pair(clock)
    a.record("m", False, None, True, CFG)
    sync = asyncio.create_task(a.sync_now())
    await asyncio.sleep(0)  # the push is in flight
    a.record("m", False, None, True, CFG)
    assert await sync
    assert a.snapshot()["m"]["window_failures"] == 2  # re-applied on top of the view
    assert await a.sync_now() and await b.sync_now()
    assert b.snapshot()["m"]["window_failures"] == 2


async def test_router_on_two_replicas_shares_one_breaker(local_ray: None) -> None:
    clock = FakeClock(4_000_000.0)
    a, b, _ = pair(clock)
    routing = {
        "routes": {"smart": {"mode": "fallback", "targets": ["x", "y"]}},
        "circuit_breaker": CFG.model_dump(),
    }
    router_a, up_a, _, _ = make_router(routing, "x", "y", state=a, clock=clock)  # type: ignore[arg-type]
    router_b, up_b, _, _ = make_router(routing, "x", "y", state=b, clock=clock)  # type: ignore[arg-type]
    up_a.script = {"x": [upstream_error(UpstreamError, 503)]}
    for _ in range(3):
        await router_a.execute(RouteRequest("smart"), up_a, [])
    await a.sync_now()
    await b.sync_now()
    attempts: list[dict[str, object]] = []
    attempt, _ = await router_b.execute(RouteRequest("smart"), up_b, attempts)
    assert attempt.target == "y" and up_b.targets() == ["y"]
    assert attempts[0]["status"] == "skipped" and attempts[0]["reason"] == "breaker_open"


async def test_background_sync_and_recovery_from_a_lost_actor(local_ray: None) -> None:
    cfg = CFG.model_copy(update={"cooldown_s": 3600})  # stays open however slow this runs
    a = SharedRoutingState(name=f"rs-{uuid.uuid4().hex[:8]}", breaker=cfg, sync_interval_s=0.05)
    b = SharedRoutingState(name=a.name, breaker=cfg, sync_interval_s=0.05)
    b.start()  # a starts its own task with its first recorded result (autostart)
    try:
        for _ in range(3):
            a.record("up", False, None, True, cfg)
        await _until(lambda: not b.allow("up", cfg))

        ray.kill(ray.get_actor(a.name, namespace=NAMESPACE))  # the authority is lost
        await _until(lambda: a.sync_failures > 0 and b.sync_failures > 0)
        assert not a.allow("up", cfg) and not b.allow("up", cfg)  # the local views hold
        # Both reconnect to a new actor and seed it with what they know, so a replica
        # that starts now learns the open breaker from it.
        await _until(lambda: a.sync_status()["connected"] and b.sync_status()["connected"])
        assert a.sync_status()["background_sync"]
        fresh = SharedRoutingState(name=a.name, breaker=cfg, autostart=False)
        assert await fresh.sync_now()
        assert fresh.snapshot()["up"]["breaker"] == "open" and not fresh.allow("up", cfg)
        assert fresh.snapshot()["up"]["window_failures"] == 0  # opened: window reset
    finally:
        await a.close()
        await b.close()


async def _until(cond: object, timeout: float = 30.0) -> None:
    """Poll ``cond()`` until true (a generous ceiling, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not cond():  # type: ignore[operator]
        assert loop.time() < deadline, "condition not reached"
        await asyncio.sleep(0.05)
