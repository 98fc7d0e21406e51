"""Where breakers and latency statistics live: the :class:`RoutingState` interface.

The router calls these methods synchronously on the hot path, so implementations answer
from memory and never block. :class:`LocalRoutingState` keeps everything in this process
(a notebook, a test, a single replica). ``serve.routing_state.SharedRoutingState`` keeps a
local mirror with the same logic and synchronises it with one Ray actor in the background,
so that ingress replicas agree (see docs/routing.md for how stale that view can be).

``breaker`` and ``ewma_alpha`` may be passed per call (the router passes the settings of its
routing section); without them the state's own defaults apply.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from workbench.routing.breaker import TargetHealth
from workbench.routing.config import CircuitBreakerConfig, DynamicConfig

__all__ = ["LocalRoutingState", "RoutingState"]


@runtime_checkable
class RoutingState(Protocol):
    """Breaker and latency state per target, shared by every router of a process."""

    def allow(self, target: str, breaker: CircuitBreakerConfig | None = None) -> bool:
        """True when the target's breaker is closed, or a half-open probe slot was granted."""
        ...

    def record(
        self,
        target: str,
        ok: bool,
        latency_ms: float | None,
        breaker_failure: bool,
        breaker: CircuitBreakerConfig | None = None,
        ewma_alpha: float | None = None,
    ) -> None:
        """Count one finished attempt (``latency_ms`` only for answers that arrived)."""
        ...

    def latency_ms(self, target: str) -> float | None:
        """The target's latency average (EWMA, ms), or None before the first sample."""
        ...

    def samples(self, target: str) -> int:
        """How many latency samples the average is made of."""
        ...

    def snapshot(self) -> dict[str, Any]:
        """Every known target's breaker and metrics, JSON-able (for /health and docs)."""
        ...


class LocalRoutingState:
    """In-process :class:`RoutingState` (one event loop; no locking needed)."""

    def __init__(
        self,
        breaker: CircuitBreakerConfig | None = None,
        ewma_alpha: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.breaker = breaker or CircuitBreakerConfig()
        self.ewma_alpha = ewma_alpha if ewma_alpha is not None else DynamicConfig().ewma_alpha
        self.clock = clock
        self.targets: dict[str, TargetHealth] = {}
        self._cfg: dict[str, CircuitBreakerConfig] = {}  # last settings used per target

    def _settings(self, target: str, breaker: CircuitBreakerConfig | None) -> CircuitBreakerConfig:
        if breaker is None:
            return self._cfg.get(target, self.breaker)
        self._cfg[target] = breaker
        return breaker

    def health(self, target: str) -> TargetHealth:
        """The target's record (created on first use)."""
        health = self.targets.get(target)
        if health is None:
            health = self.targets[target] = TargetHealth()
        return health

    def allow(self, target: str, breaker: CircuitBreakerConfig | None = None) -> bool:
        cfg = self._settings(target, breaker)
        return self.health(target).breaker.allow(self.clock(), cfg)

    def record(
        self,
        target: str,
        ok: bool,
        latency_ms: float | None,
        breaker_failure: bool,
        breaker: CircuitBreakerConfig | None = None,
        ewma_alpha: float | None = None,
    ) -> None:
        self.health(target).record(
            self.clock(),
            ok=ok,
            latency_ms=latency_ms,
            breaker_failure=breaker_failure,
            cfg=self._settings(target, breaker),
            alpha=ewma_alpha if ewma_alpha is not None else self.ewma_alpha,
        )

    def latency_ms(self, target: str) -> float | None:
        health = self.targets.get(target)
        return None if health is None else health.latency_ms

    def samples(self, target: str) -> int:
        health = self.targets.get(target)
        return 0 if health is None else health.samples

    def snapshot(self) -> dict[str, Any]:
        now = self.clock()
        return {
            name: health.snapshot(now, self._cfg.get(name, self.breaker))
            for name, health in sorted(self.targets.items())
        }
