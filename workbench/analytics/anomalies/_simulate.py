"""Request-level traffic with injected anomalies, for evaluating the detector.

Realistic load: a diurnal curve (night at a fifth of the afternoon peak), quieter
weekends, day-to-day and hour-to-hour over-dispersion on top of Poisson arrivals;
several workspaces, keys of very different sizes, three models with their own token,
latency, price and error profiles; streaming, cache hits and guardrail blocks. The rows
carry the log's column names, so the same series SQL reads them as it reads the lake.

Anomalies are injected as multipliers on that generator (see :data:`KINDS`); each comes
back as an :class:`Event` naming every series it can legitimately move, so an alert on
the event's key, its workspace or its model all count as detections.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from ._simulate_events import KINDS, Event, Modifiers, Topology, place_events

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["KINDS", "Event", "Simulation", "simulate"]

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday
_MODELS = ("large", "small", "local")
_PRICE = np.array([30e-6, 2e-6, 0.0])  # USD per token
_LAT_MS = np.array([1400.0, 500.0, 900.0])  # median latency per model
_TTFT_MS = np.array([350.0, 150.0, 250.0])
_ERR = np.array([0.01, 0.008, 0.02])


@dataclass
class Simulation:
    """Generated rows (an Arrow table with log column names) and what was injected."""

    table: pa.Table
    events: list[Event]
    start: datetime
    days: int
    warmup_days: int
    topology: Topology = field(repr=False)

    @property
    def scored_from(self) -> datetime:
        """Where injections (and scoring) begin: after the warm-up."""
        return self.start + timedelta(days=self.warmup_days)


def _topology(rng: np.random.Generator) -> Topology:
    n_ws = 4
    keys_per_ws = (3, 3, 2, 2)
    keys, ws_of, peak, mix, tokens = [], [], [], [], []
    for w in range(n_ws):
        for j in range(keys_per_ws[w]):
            keys.append(f"key-{w}{j}")
            ws_of.append(w)
            peak.append(float(rng.choice([4.0, 12.0, 30.0, 60.0, 120.0])))
            mix.append(rng.dirichlet([2.0, 2.0, 1.0]))
            tokens.append(float(rng.uniform(300, 1500)))
    return Topology(
        workspaces=[f"ws-{c}" for c in "abcd"[:n_ws]],
        keys=keys,
        models=list(_MODELS),
        ws_of=np.array(ws_of),
        peak=np.array(peak),
        mix=np.array(mix),
        tokens=np.array(tokens),
        cache_hit=rng.uniform(0.2, 0.45, n_ws),
        block=rng.uniform(0.003, 0.015, n_ws),
    )


def _load(hours: int, topo: Topology, rng: np.random.Generator) -> np.ndarray:
    """Expected requests per key and hour, with weekly/diurnal shape and over-dispersion."""
    h = np.arange(hours)
    hod, dow = h % 24, (h // 24) % 7
    diurnal = 0.2 + 0.8 * np.exp(-(((hod - 14.0) / 4.5) ** 2))
    weekly = np.where(dow >= 5, 0.45, 1.0)
    days = hours // 24 + 1
    n_keys = len(topo.keys)
    daily = rng.lognormal(0.0, 0.08, (n_keys, days))[:, h // 24]
    hourly = rng.lognormal(0.0, 0.10, (n_keys, hours))
    growth = 1.0 + 0.002 * h / 24.0  # slow organic growth
    return np.asarray(topo.peak[:, None] * diurnal * weekly * daily * hourly * growth)


def _rows(
    lam: np.ndarray, mods: Modifiers, topo: Topology, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    counts = rng.poisson(lam * mods.rate)
    key = np.repeat(np.arange(lam.shape[0]), counts.sum(axis=1))
    hour = np.concatenate([np.repeat(np.arange(lam.shape[1]), c) for c in counts])
    size = key.size
    u = rng.random(size)
    cum = np.cumsum(topo.mix[key], axis=1)
    model = np.minimum((u[:, None] > cum).sum(axis=1), len(_MODELS) - 1)
    ws = topo.ws_of[key]
    tokens = np.rint(
        topo.tokens[key] * mods.tokens[key, hour] * rng.lognormal(-0.18, 0.6, size)
    ).astype(np.int64)
    blocked = rng.random(size) < np.maximum(topo.block[ws], mods.block[key, hour])
    err = ~blocked & (rng.random(size) < np.maximum(_ERR[model], mods.error[model, hour]))
    lookup = rng.random(size) < 0.8
    hit = lookup & ~blocked & (rng.random(size) < topo.cache_hit[ws] * mods.cache[ws, hour])
    slow = mods.latency[model, hour]
    latency = _LAT_MS[model] * slow * rng.lognormal(0.0, 0.35, size)
    ttft = _TTFT_MS[model] * slow * rng.lognormal(0.0, 0.3, size)
    stream = rng.random(size) < 0.5
    return {
        "key": key,
        "hour": hour,
        "model": model,
        "ws": ws,
        "tokens": tokens,
        "blocked": blocked,
        "err": err,
        "lookup": lookup,
        "hit": hit,
        "latency": np.where(hit, 5.0, latency),
        "ttft": np.where(stream, np.where(hit, 3.0, ttft), np.nan),
        "offset_s": rng.random(size) * 3600.0,
    }


def _table(r: dict[str, np.ndarray], topo: Topology, start: datetime) -> pa.Table:
    import pyarrow as pa

    ok = ~(r["blocked"] | r["err"])
    when = np.datetime64(start.replace(tzinfo=None), "us") + (
        (r["hour"] * 3600.0 + r["offset_s"]) * 1e6
    ).astype("timedelta64[us]")
    tokens = np.where(r["blocked"], 0, r["tokens"])
    cost = np.where(ok & ~r["hit"], tokens * _PRICE[r["model"]], 0.0)
    status = np.where(r["blocked"], "rejected", np.where(r["err"], "error", "ok"))
    cache = np.where(r["hit"], "hit", np.where(r["lookup"], "miss", "bypass"))
    models = np.array(topo.models)[r["model"]]
    return pa.table(
        {
            "received_at": pa.array(when, pa.timestamp("us", tz="UTC")),
            "workspace": pa.array(np.array(topo.workspaces)[r["ws"]]),
            "key_id": pa.array(np.array(topo.keys)[r["key"]]),
            "model_requested": pa.array(models),
            "model_served": pa.array(models, mask=r["blocked"]),
            "status": pa.array(status),
            "error_code": pa.array(np.full(models.size, "guardrail_denied"), mask=~r["blocked"]),
            "cache_status": pa.array(cache),
            "total_tokens": pa.array(tokens, mask=r["blocked"]),
            "cost_usd": pa.array(cost),
            "latency_ms": pa.array(r["latency"]),
            "ttft_ms": pa.array(r["ttft"]),
        }
    )


def simulate(
    days: int = 70,
    seed: int = 0,
    *,
    warmup_days: int = 14,
    per_kind: int = 2,
    kinds: tuple[str, ...] = tuple(KINDS),
    start: datetime = START,
) -> Simulation:
    """``days`` of traffic (seeded) with ``per_kind`` events of each kind in ``kinds``
    placed at random after ``warmup_days`` (``per_kind=0``: clean traffic)."""
    rng = np.random.default_rng(seed)
    topo = _topology(rng)
    hours = days * 24
    lam = _load(hours, topo, rng)
    mods = Modifiers.neutral(topo, hours)
    events = place_events(topo, mods, lam, rng, kinds, per_kind, warmup_days * 24, start)
    rows = _rows(lam, mods, topo, rng)
    return Simulation(_table(rows, topo, start), events, start, days, warmup_days, topo)
