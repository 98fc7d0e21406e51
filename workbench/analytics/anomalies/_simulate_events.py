"""The anomaly kinds the simulator injects, and where it puts them.

Every event is a change of the generator's parameters over a time window
(:class:`Modifiers`); events are placed one after another in random order with random
gaps (one to two and a half days), so each alert can be attributed to at most one event.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np


@dataclass
class Topology:
    """Who sends traffic: workspaces, their keys (index-aligned arrays), models."""

    workspaces: list[str]
    keys: list[str]
    models: list[str]
    ws_of: np.ndarray
    peak: np.ndarray
    mix: np.ndarray
    tokens: np.ndarray
    cache_hit: np.ndarray
    block: np.ndarray


@dataclass
class Modifiers:
    """Multipliers and probabilities per (key | model | workspace, hour)."""

    rate: np.ndarray
    tokens: np.ndarray
    block: np.ndarray
    error: np.ndarray
    cache: np.ndarray
    latency: np.ndarray

    @classmethod
    def neutral(cls, topo: Topology, hours: int) -> Modifiers:
        """No change anywhere."""
        k, m, w = len(topo.keys), len(topo.models), len(topo.workspaces)
        return cls(
            rate=np.ones((k, hours)),
            tokens=np.ones((k, hours)),
            block=np.zeros((k, hours)),
            error=np.zeros((m, hours)),
            cache=np.ones((w, hours)),
            latency=np.ones((m, hours)),
        )


@dataclass(frozen=True)
class Event:
    """One injected anomaly: what, where, when, and which series it may move."""

    kind: str
    target: str
    start: datetime
    end: datetime
    metrics: frozenset[str]
    series: frozenset[tuple[str, str]]
    magnitude: float

    def matches(self, level: str, entity: str, metric: str) -> bool:
        """Could an alert on this series and metric have been caused by this event?"""
        return metric in self.metrics and (level, entity) in self.series


@dataclass
class _Ctx:
    topo: Topology
    mods: Modifiers
    lam: np.ndarray
    rng: np.random.Generator


def _key_series(topo: Topology, k: int) -> set[tuple[str, str]]:
    used = {("model", m) for i, m in enumerate(topo.models) if topo.mix[k, i] > 0.02}
    return {("key", topo.keys[k]), ("workspace", topo.workspaces[topo.ws_of[k]]), *used}


def _model_series(topo: Topology, m: int) -> set[tuple[str, str]]:
    out = {("model", topo.models[m])}
    for k in np.flatnonzero(topo.mix[:, m] > 0.02).tolist():
        out |= {("key", topo.keys[k]), ("workspace", topo.workspaces[topo.ws_of[k]])}
    return out


def _ws_series(topo: Topology, w: int) -> set[tuple[str, str]]:
    out = {("workspace", topo.workspaces[w])} | {("model", m) for m in topo.models}
    return out | {("key", topo.keys[k]) for k in np.flatnonzero(topo.ws_of == w).tolist()}


def _big_key(c: _Ctx, min_peak: float) -> int:
    return int(c.rng.choice(np.flatnonzero(c.topo.peak >= min_peak)))


# Each injector: (ctx, start hour) -> (duration h, target, metrics, series, magnitude)
_Result = tuple[int, str, set[str], set[tuple[str, str]], float]


def _spike(c: _Ctx, s: int) -> _Result:
    k, d, f = _big_key(c, 30), int(c.rng.integers(1, 4)), float(c.rng.uniform(3, 6))
    c.mods.rate[k, s : s + d] += f * c.topo.peak[k] / c.lam[k, s : s + d]
    return d, c.topo.keys[k], {"requests", "cost"}, _key_series(c.topo, k), f


def _level_shift(c: _Ctx, s: int) -> _Result:
    w, d = int(c.rng.integers(len(c.topo.workspaces))), int(c.rng.integers(24, 73))
    f = float(c.rng.uniform(2, 3) if c.rng.random() < 0.5 else c.rng.uniform(0.15, 0.35))
    keys = np.flatnonzero(c.topo.ws_of == w)
    c.mods.rate[keys, s : s + d] *= f
    return d, c.topo.workspaces[w], {"requests", "cost"}, _ws_series(c.topo, w), f


def _ramp(c: _Ctx, s: int) -> _Result:
    k, a = _big_key(c, 30), float(c.rng.uniform(2.5, 4))
    ramp, hold = int(c.rng.integers(48, 97)), 24
    c.mods.tokens[k, s : s + ramp] *= 1 + (a - 1) * np.arange(1, ramp + 1) / ramp
    c.mods.tokens[k, s + ramp : s + ramp + hold] *= a
    return ramp + hold, c.topo.keys[k], {"tokens_per_request", "cost"}, _key_series(c.topo, k), a


def _leaked_key(c: _Ctx, s: int) -> _Result:
    k, d = _big_key(c, 12), int(c.rng.integers(6, 25))
    c.mods.rate[k, s : s + d] += float(c.rng.uniform(1, 2)) * c.topo.peak[k] / c.lam[k, s : s + d]
    c.mods.tokens[k, s : s + d] *= 5.0
    metrics = {"requests", "tokens_per_request", "cost"}
    return d, c.topo.keys[k], metrics, _key_series(c.topo, k), 5.0


def _latency(c: _Ctx, s: int) -> _Result:
    m, d, f = int(c.rng.integers(3)), int(c.rng.integers(6, 49)), float(c.rng.uniform(2, 3))
    c.mods.latency[m, s : s + d] *= f
    return d, c.topo.models[m], {"p95_latency", "p95_ttft"}, _model_series(c.topo, m), f


def _error_burst(c: _Ctx, s: int) -> _Result:
    m, d, p = int(c.rng.integers(3)), int(c.rng.integers(1, 5)), float(c.rng.uniform(0.15, 0.35))
    c.mods.error[m, s : s + d] = p
    return d, c.topo.models[m], {"error_rate"}, _model_series(c.topo, m), p


def _cache_collapse(c: _Ctx, s: int) -> _Result:
    w, d = int(c.rng.integers(len(c.topo.workspaces))), int(c.rng.integers(6, 25))
    c.mods.cache[w, s : s + d] = 0.05
    return d, c.topo.workspaces[w], {"cache_hit_rate", "cost"}, _ws_series(c.topo, w), 0.05


def _guardrail_surge(c: _Ctx, s: int) -> _Result:
    k, d, p = _big_key(c, 12), int(c.rng.integers(2, 9)), float(c.rng.uniform(0.25, 0.45))
    c.mods.rate[k, s : s + d] += float(c.rng.uniform(1, 2)) * c.topo.peak[k] / c.lam[k, s : s + d]
    c.mods.block[k, s : s + d] = p
    metrics = {"block_rate", "requests", "cost"}
    return d, c.topo.keys[k], metrics, _key_series(c.topo, k), p


KINDS: dict[str, Callable[[_Ctx, int], _Result]] = {
    "spike": _spike,
    "level_shift": _level_shift,
    "slow_ramp": _ramp,
    "leaked_key": _leaked_key,
    "latency_regression": _latency,
    "error_burst": _error_burst,
    "cache_collapse": _cache_collapse,
    "guardrail_surge": _guardrail_surge,
}
"""Injectable anomaly kinds, by name."""


def place_events(
    topo: Topology,
    mods: Modifiers,
    lam: np.ndarray,
    rng: np.random.Generator,
    kinds: tuple[str, ...],
    per_kind: int,
    first_hour: int,
    start: datetime,
) -> list[Event]:
    """Inject ``per_kind`` events of every kind, in random order, from ``first_hour``."""
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise ValueError(f"unknown anomaly kinds {unknown} (known: {', '.join(KINDS)})")
    order = [k for k in kinds for _ in range(per_kind)]
    rng.shuffle(order)
    ctx = _Ctx(topo, mods, lam, rng)
    hours = lam.shape[1]
    t = first_hour + int(rng.integers(6, 48))
    events: list[Event] = []
    for kind in order:
        if t + 24 * 5 > hours:
            raise ValueError(f"{hours // 24} days are too few for {len(order)} events")
        d, target, metrics, series, mag = KINDS[kind](ctx, t)
        events.append(
            Event(
                kind=kind,
                target=target,
                start=start + timedelta(hours=t),
                end=start + timedelta(hours=t + d),
                metrics=frozenset(metrics),
                series=frozenset(series),
                magnitude=mag,
            )
        )
        t += d + int(rng.integers(24, 61))
    return events
