"""The /health probe polls Serve's controller only while /health is being asked (no Ray:
the controller call is replaced)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from serve import health


class _Shipper:
    def health(self) -> dict[str, Any]:
        return {"backlog": 0, "stalled": False}


class _Policies:
    def info(self) -> dict[str, Any]:
        return {"policies_live": []}


async def test_polls_while_asked_then_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0

    def states() -> dict[str, dict[str, Any]]:
        nonlocal calls
        calls += 1
        return {"Gateway": {"status": "HEALTHY", "running": 1}}

    monkeypatch.setattr(health, "_deployment_states", states)
    probe = health.HealthProbe(None, _Shipper(), _Policies(), True, interval_s=0.01, idle_polls=3)
    assert probe.report()["ready"] is True
    await asyncio.sleep(0.2)
    assert probe._task is not None and probe._task.done()  # stopped: nobody asked
    stopped_at = calls
    assert 1 <= stopped_at <= 5
    await asyncio.sleep(0.1)
    assert calls == stopped_at
    probe.report()  # asked again: polling resumes
    await asyncio.sleep(0.02)
    assert calls > stopped_at


async def test_an_unhealthy_deployment_makes_it_unready(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        health, "_deployment_states", lambda: {"model-local": {"status": "UNHEALTHY", "running": 0}}
    )
    probe = health.HealthProbe(None, _Shipper(), _Policies(), True, interval_s=0.01)
    probe.report()
    await asyncio.sleep(0.05)
    info = probe.report()
    assert info["ready"] is False and "model-local" in info["problems"][0]


async def test_one_ingress_replica_routes_on_local_state(monkeypatch: pytest.MonkeyPatch) -> None:
    from serve.routing_state import SharedRoutingState, routing_state_for
    from workbench.routing import LocalRoutingState

    assert isinstance(routing_state_for(1), LocalRoutingState)  # no actor, no sync task
    assert isinstance(routing_state_for(2), SharedRoutingState)
    monkeypatch.setattr(health, "_deployment_states", lambda: {})
    state = routing_state_for(1)
    state.record("a", ok=False, latency_ms=None, breaker_failure=True)
    probe = health.HealthProbe(None, _Shipper(), _Policies(), True, routing=state)
    info = probe.report()["routing"]
    assert info["sync"] == {"mode": "local"} and "a" in info["targets"]
