"""Test doubles for the router: a fake clock/sleep and a scripted upstream ``call``."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.routing import (
    Attempt,
    LocalRoutingState,
    OutputRejected,
    Router,
    RoutingConfig,
    TargetInfo,
)


class FakeClock:
    """A clock that only moves when told (or when the router sleeps)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class Timeouts:
    """Stands in for the gateway config's Timeouts object."""

    connect: float = 5.0
    read: float = 120.0
    first_byte: float | None = None
    total: float | None = None


Step = Any  # "ok" | float (seconds of latency, then ok) | Exception | OutputRejected


@dataclass
class Upstream:
    """Scripted answers per target; a target's last step repeats when its script runs out."""

    clock: FakeClock
    script: dict[str, list[Step]] = field(default_factory=dict)
    seen: list[Attempt] = field(default_factory=list)

    async def __call__(self, attempt: Attempt) -> str:
        self.seen.append(attempt)
        steps = self.script.get(attempt.target, ["ok"])
        step = steps.pop(0) if len(steps) > 1 else steps[0]
        if isinstance(step, tuple):
            latency, step = step
            self.clock.now += latency
        if isinstance(step, int | float) and not isinstance(step, bool):
            self.clock.now += step
            step = "ok"
        if isinstance(step, BaseException):
            raise step
        return f"answer from {attempt.target}"

    def targets(self) -> list[str]:
        return [a.target for a in self.seen]


def infos(*names: str, costs: Mapping[str, float] | None = None) -> dict[str, TargetInfo]:
    """TargetInfo for each name (provider ``fake``)."""
    costs = costs or {}
    return {n: TargetInfo(n, "fake", costs.get(n), Timeouts()) for n in names}


def make_router(
    routing: dict[str, Any] | RoutingConfig | None,
    *names: str,
    seed: int = 7,
    costs: Mapping[str, float] | None = None,
    state: LocalRoutingState | None = None,
    clock: FakeClock | None = None,
) -> tuple[Router, Upstream, LocalRoutingState, FakeClock]:
    """A router over fake targets with a fake clock, its scripted upstream and its state."""
    clock = clock or FakeClock()
    config = RoutingConfig.model_validate(routing) if isinstance(routing, dict) else routing
    state = state or LocalRoutingState(clock=clock)
    router = Router(
        config,
        infos(*names, costs=costs),
        state,
        rng=random.Random(seed),
        sleep=clock.sleep,
        clock=clock,
    )
    return router, Upstream(clock), state, clock


def rejected(message: str = "output blocked") -> OutputRejected:
    from workbench.errors import GuardrailDeniedError

    return OutputRejected(GuardrailDeniedError(message, check="no-bad", stage="output"))


def upstream_error(cls: type[WorkbenchError], status: int | None = None, **kw: Any) -> Exception:
    return cls(f"upstream said {status}", upstream_status=status, **kw)
