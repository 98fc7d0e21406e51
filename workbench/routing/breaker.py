"""Per-target health: the circuit breaker state machine and the latency average.

The breaker is *closed* while the target is healthy. Every finished attempt lands in a
sliding window (time buckets of ``window_s / 30``). It *opens* when the window holds
``failure_threshold`` failures, or once it holds ``min_requests`` requests of which at
least ``failure_rate`` failed. An open breaker refuses traffic for ``cooldown_s``; after
that it is *half-open*: up to ``half_open_probes`` requests at a time are let through as
probes (a probe that never reports back frees its slot after another ``cooldown_s``).
``half_open_probes`` successes close it (with a fresh window); one failure re-opens it for
another cool-down. Results that arrive while it is open and cooling down (requests that
were already in flight) are ignored.

Everything takes ``now`` explicitly, so the same code runs in-process (monotonic clock)
and in the shared Ray actor (wall clock), and tests drive it with a fake clock.
:meth:`TargetHealth.to_dict` / :meth:`TargetHealth.from_dict` carry the shared part
(not the local probe grants) between processes.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.routing.config import CircuitBreakerConfig

__all__ = ["Breaker", "BreakerPhase", "TargetHealth"]

BreakerPhase = Literal["closed", "open", "half_open"]
_BUCKETS_PER_WINDOW = 30
_MAX_BUCKETS = 4 * _BUCKETS_PER_WINDOW


@dataclass
class Breaker:
    """One target's breaker; see the module docstring for the rules."""

    open: bool = False
    opened_at: float | None = None
    probe_successes: int = 0
    buckets: deque[list[float]] = field(default_factory=deque)  # [start, requests, failures]
    probes: list[float] = field(default_factory=list)  # local grants: when each was granted

    def phase(self, now: float, cfg: CircuitBreakerConfig) -> BreakerPhase:
        """``closed``, ``open`` (cooling down) or ``half_open`` (probes allowed)."""
        if not self.open or not cfg.enabled:
            return "closed"
        assert self.opened_at is not None
        return "open" if now < self.opened_at + cfg.cooldown_s else "half_open"

    def counts(self, now: float, cfg: CircuitBreakerConfig) -> tuple[int, int]:
        """``(requests, failures)`` in the window ending at ``now``."""
        since = now - cfg.window_s
        requests = failures = 0
        for start, n, f in self.buckets:
            if start > since:
                requests += int(n)
                failures += int(f)
        return requests, failures

    def allow(self, now: float, cfg: CircuitBreakerConfig) -> bool:
        """May a request go to this target now? In half-open, grants a probe slot."""
        phase = self.phase(now, cfg)
        if phase == "closed":
            return True
        if phase == "open":
            return False
        self.probes = [t for t in self.probes if now - t < cfg.cooldown_s]
        if len(self.probes) < cfg.half_open_probes:
            self.probes.append(now)
            return True
        return False

    def record(self, now: float, failure: bool, cfg: CircuitBreakerConfig) -> None:
        """Count one finished attempt (``failure``: it counts against the target)."""
        if not cfg.enabled:
            return
        phase = self.phase(now, cfg)
        if phase == "open":
            return  # in flight before the breaker opened: no news
        if phase == "half_open":
            if self.probes:
                self.probes.pop(0)
            if failure:
                self._trip(now)
            else:
                self.probe_successes += 1
                if self.probe_successes >= cfg.half_open_probes:
                    self._close()
            return
        self._count(now, failure, cfg)
        if failure and self._tripped(now, cfg):
            self._trip(now)

    def _count(self, now: float, failure: bool, cfg: CircuitBreakerConfig) -> None:
        width = cfg.window_s / _BUCKETS_PER_WINDOW
        if self.buckets and now - self.buckets[-1][0] < width:
            bucket = self.buckets[-1]
        else:
            bucket = [now, 0.0, 0.0]
            self.buckets.append(bucket)
        bucket[1] += 1
        bucket[2] += 1 if failure else 0
        since = now - cfg.window_s
        while self.buckets and (self.buckets[0][0] <= since or len(self.buckets) > _MAX_BUCKETS):
            self.buckets.popleft()

    def _tripped(self, now: float, cfg: CircuitBreakerConfig) -> bool:
        requests, failures = self.counts(now, cfg)
        if failures >= cfg.failure_threshold:
            return True
        return requests >= cfg.min_requests and failures / requests >= cfg.failure_rate

    def _trip(self, now: float) -> None:
        self.open, self.opened_at, self.probe_successes = True, now, 0
        self.buckets.clear()
        self.probes.clear()

    def _close(self) -> None:
        self.open, self.opened_at, self.probe_successes = False, None, 0
        self.buckets.clear()
        self.probes.clear()


@dataclass
class TargetHealth:
    """Breaker plus live metrics of one target."""

    breaker: Breaker = field(default_factory=Breaker)
    latency_ms: float | None = None  # EWMA of successful attempts
    samples: int = 0
    ok: int = 0
    failed: int = 0

    def record(
        self,
        now: float,
        *,
        ok: bool,
        latency_ms: float | None,
        breaker_failure: bool,
        cfg: CircuitBreakerConfig,
        alpha: float,
    ) -> None:
        """Count one finished attempt."""
        if ok:
            self.ok += 1
        else:
            self.failed += 1
        if latency_ms is not None:
            if self.latency_ms is None:
                self.latency_ms = float(latency_ms)
            else:
                self.latency_ms = alpha * float(latency_ms) + (1 - alpha) * self.latency_ms
            self.samples += 1
        self.breaker.record(now, breaker_failure, cfg)

    def snapshot(self, now: float, cfg: CircuitBreakerConfig) -> dict[str, Any]:
        """A JSON-able view for ``/health`` and docs."""
        requests, failures = self.breaker.counts(now, cfg)
        return {
            "breaker": self.breaker.phase(now, cfg),
            "opened_s_ago": (
                None if self.breaker.opened_at is None else round(now - self.breaker.opened_at, 3)
            ),
            "window_requests": requests,
            "window_failures": failures,
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "samples": self.samples,
            "ok": self.ok,
            "failed": self.failed,
        }

    def to_dict(self) -> dict[str, Any]:
        """The shareable part (no local probe grants)."""
        b = self.breaker
        return {
            "open": b.open,
            "opened_at": b.opened_at,
            "probe_successes": b.probe_successes,
            "buckets": [list(x) for x in b.buckets],
            "latency_ms": self.latency_ms,
            "samples": self.samples,
            "ok": self.ok,
            "failed": self.failed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], probes: list[float] | None = None) -> TargetHealth:
        """Rebuild from :meth:`to_dict`, keeping the given local probe grants."""
        breaker = Breaker(
            open=bool(data["open"]),
            opened_at=data["opened_at"],
            probe_successes=int(data["probe_successes"]),
            buckets=deque([list(map(float, x)) for x in data["buckets"]]),
            probes=list(probes or []),
        )
        return cls(
            breaker=breaker,
            latency_ms=data["latency_ms"],
            samples=int(data["samples"]),
            ok=int(data["ok"]),
            failed=int(data["failed"]),
        )
