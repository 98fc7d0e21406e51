"""Anomaly-detection bench: our detector vs a static threshold and a plain z-score.

``python -m bench.anomalies [--days 75] [--tune-seeds 1,2,3,4] [--seeds 101,102,103] [--stl]
[--synth [--synth-days 60]]``

Traffic: :func:`workbench.anomalies.simulate` (request-level rows with the log's columns:
diurnal and weekly load, over-dispersed Poisson arrivals, 4 workspaces, 10 keys of very
different sizes, 3 models) with 2 injected events of each of the 8 kinds per seed
(spike, level shift, slow ramp, leaked key at 5x tokens, latency regression, error
burst, cache collapse, guardrail-block surge), placed at random after a 14-day warm-up.
Series come from the same one-scan DuckDB SQL that reads the log lake (hourly, per
workspace, key and model, 8 metrics). Each event names every series it can move.

``--synth`` also scores the tuned detectors (no re-tuning) on ``workbench.synth``
traffic (its five workspaces, retries, fallbacks, timeouts, attacks, repeats) of the
report seeds with 2 of each of its injections but the ramp (which never ends); the
ground truth of an injection is every series with rows in its scope and window.

Each detector is tuned on the tune seeds (grid below, best event F1) and reported on
the other seeds, side by side in one run: event precision/recall/F1, median detection
delay, false alerts per simulated day (scored days only, after the warm-up).

- ours: :class:`DetectorConfig` (robust hour-of-week baseline, dispersion, persistence,
  minimum volume, CUSUM drift); grid over ``z_threshold`` x ``cusum_h`` x ``cusum_k``;
- static: per series, an upper (and for down-metrics a lower) threshold at a quantile of
  the warm-up values times a margin; grid over quantile x margin;
- zscore: z against the mean and standard deviation of the trailing 7 days; grid over
  the z threshold.
All three alert in the directions that matter per metric and merge alert buckets into
alerts the same way.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from workbench.analytics.anomalies import (
    METRICS,
    Anomaly,
    DetectorConfig,
    Event,
    EventScore,
    Simulation,
    detect_frame,
    score_events,
    series_from,
    simulate,
)
from workbench.analytics.anomalies._baseline import trailing
from workbench.analytics.anomalies._detector import _runs, iter_arrays

HOUR = timedelta(hours=1)
OURS_GRID = [
    {"z_threshold": z, "cusum_h": h, "cusum_k": k}
    for z in (4.5, 5.0)
    for h in (8.0, 12.0)
    for k in (0.5, 1.0)
]
STATIC_GRID = [{"q": q, "margin": m} for q in (0.99, 0.999, 1.0) for m in (1.0, 1.25, 1.5)]
ZSCORE_GRID = [{"z": z} for z in (3.0, 4.0, 5.0, 6.0)]


@dataclass
class Run:
    """One seed: the simulation and its hourly series frame."""

    sim: Simulation
    frame: Any
    scored_days: float


def build(seed: int, days: int) -> Run:
    """Simulate a seed and read its hourly series through DuckDB."""
    import duckdb

    sim = simulate(days=days, seed=seed)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("traffic", sim.table)
    end = sim.start + timedelta(days=days)
    frame = series_from(con, "traffic", since=sim.start, until=end)
    con.close()
    return Run(sim, frame, days - sim.warmup_days)


def _episodes(
    key: tuple[str, str, str],
    ts: np.ndarray,
    x: np.ndarray,
    masks: dict[str, np.ndarray],
    name: str,
) -> list[Anomaly]:
    out = []
    for direction, mask in masks.items():
        for a, b in _runs(mask, 2):
            out.append(
                Anomaly(
                    key[0],
                    key[1],
                    key[2],
                    _t(ts[a]),
                    _t(ts[b] + 3600),
                    "info",
                    direction,
                    float(x[b]),
                    float("nan"),
                    float("nan"),
                    float("nan"),
                    float("nan"),
                    name,
                    int(mask[a : b + 1].sum()),
                )
            )
    return out


def _t(epoch: int) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(int(epoch), tz=UTC)


def _directions(metric: str) -> list[tuple[str, float]]:
    d = METRICS[metric].direction
    return [(n, s) for n, s in (("up", 1.0), ("down", -1.0)) if d in (n, "both")]


def static_detector(run: Run, q: float, margin: float) -> list[Anomaly]:
    """Fixed thresholds per series from the warm-up: quantile ``q`` times ``margin``."""
    cut = int(run.sim.scored_from.timestamp())
    found: list[Anomaly] = []
    for key, ts, x, _n in iter_arrays(run.frame):
        warm = x[(ts < cut) & np.isfinite(x)]
        if warm.size < 24:
            continue
        masks = {}
        for direction, sign in _directions(key[2]):
            if sign > 0:
                limit = np.quantile(warm, q) * margin
                masks[direction] = np.nan_to_num(x, nan=-np.inf) > limit
            else:
                limit = np.quantile(warm, 1 - q) / margin
                masks[direction] = np.nan_to_num(x, nan=np.inf) < limit
            masks[direction] &= ts >= cut
        found += _episodes(key, ts, x, masks, "static")
    return found


def zscore_detector(run: Run, z: float) -> list[Anomaly]:
    """z against the trailing 7-day mean and standard deviation (no seasonality)."""
    cut = int(run.sim.scored_from.timestamp())
    found: list[Anomaly] = []
    for key, ts, x, _n in iter_arrays(run.frame):
        n = trailing(np.where(np.isfinite(x), 1.0, np.nan), 168, "count")
        s1 = trailing(x, 168, "sum")
        s2 = trailing(x * x, 168, "sum")
        with np.errstate(all="ignore"):
            mean = s1 / n
            sd = np.sqrt(np.maximum(s2 / n - mean**2, 0.0))
            zz = np.nan_to_num((x - mean) / sd, nan=0.0, posinf=0.0, neginf=0.0)
        masks = {d: (s * zz >= z) & (ts >= cut) & (n >= 24) for d, s in _directions(key[2])}
        found += _episodes(key, ts, x, masks, "zscore")
    return found


def ours_detector(run: Run, **cfg: Any) -> list[Anomaly]:
    """The workbench detector."""
    return detect_frame(run.frame, config=DetectorConfig(**cfg), since=run.sim.scored_from)


def evaluate(
    runs: Sequence[Run], detector: Callable[..., list[Anomaly]], params: dict[str, Any]
) -> tuple[EventScore, list[list[Anomaly]], float]:
    """Summed score over runs, the alerts of each run, and seconds spent detecting."""
    total: EventScore | None = None
    alerts: list[list[Anomaly]] = []
    spent = 0.0
    for run in runs:
        t0 = time.perf_counter()
        found = detector(run, **params)
        spent += time.perf_counter() - t0
        alerts.append(found)
        sc = score_events(found, run.sim.events, days=run.scored_days, bucket=HOUR)
        total = sc if total is None else total + sc
    assert total is not None
    return total, alerts, spent


def tune(
    runs: Sequence[Run], detector: Callable[..., list[Anomaly]], grid: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    """The grid point with the best event F1 (ties: fewer false alerts per day)."""
    best: tuple[float, float] | None = None
    choice = grid[0]
    for params in grid:
        sc, _, _ = evaluate(runs, detector, params)
        rank = (sc.f1, -sc.false_per_day)
        print(
            f"  tune {detector.__name__:16s} {params}: F1 {sc.f1:.3f}, "
            f"false/day {sc.false_per_day:.2f}"
        )
        if best is None or rank > best:
            best, choice = rank, params
    return choice


def _kind_recall(runs: Sequence[Run], alerts: list[list[Anomaly]]) -> dict[str, str]:
    hit: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for run, found in zip(runs, alerts, strict=True):
        for e in run.sim.events:
            total[e.kind] += 1
            hit[e.kind] += score_events(found, [e], days=1.0).detected
    return {k: f"{hit[k]}/{total[k]}" for k in sorted(total)}


@dataclass
class SynthSim:
    """A ``workbench.synth`` run with injections, shaped like a :class:`Simulation`."""

    events: list[Event]
    start: datetime
    days: int
    warmup_days: int
    rows: int

    @property
    def scored_from(self) -> datetime:
        """Where scoring begins: after the warm-up."""
        return self.start + timedelta(days=self.warmup_days)


# synth injection kind -> the metrics it moves
_SYNTH_METRICS: dict[str, set[str]] = {
    "spike": {"requests", "cost"},
    "level_shift": {"requests", "cost"},
    "leaked_key": {"requests", "tokens_per_request", "cost"},
    "latency_regression": {"p95_latency", "p95_ttft"},
    "error_burst": {"error_rate", "p95_latency", "p95_ttft"},
    "cache_collapse": {"cache_hit_rate", "cost"},
    "attack_surge": {"block_rate"},
}


def _synth_injections(rng: np.random.Generator, start: datetime, warmup: int) -> list[Any]:
    """Two of each synth kind but the ramp (its change never ends), in random order with
    gaps of 1 to 2.5 days, on random workspaces (the cache-less ones excluded for a cache
    collapse) or models."""
    from workbench import synth

    wss = [w.name for w in synth.default_workspaces()]
    cached = [w.name for w in synth.default_workspaces() if w.cache]
    models = [m.name for m in synth.default_models()]

    def hours(lo: int, hi: int) -> int:
        return int(rng.integers(lo, hi + 1))

    makers: list[Callable[[datetime, str], Any]] = [
        lambda t, w: synth.Spike(t, hours=hours(1, 3), factor=5.0, workspace=w),
        lambda t, w: synth.LevelShift(
            t, hours=hours(24, 48), factor=float(rng.choice([0.3, 2.5])), workspace=w
        ),
        lambda t, w: synth.LeakedKey(t, hours=hours(6, 24), workspace=w),
        lambda t, w: synth.LatencyRegression(t, hours=hours(6, 24), model=str(rng.choice(models))),
        lambda t, w: synth.ErrorBurst(
            t, hours=hours(1, 4), rate=0.3, model=str(rng.choice(models))
        ),
        lambda t, w: synth.CacheCollapse(t, hours=hours(6, 24), workspace=str(rng.choice(cached))),
        lambda t, w: synth.AttackSurge(t, hours=hours(2, 8), rate=0.4, workspace=w),
    ]
    order = [m for m in makers for _ in range(2)]
    rng.shuffle(order)  # type: ignore[arg-type]
    at = start + timedelta(days=warmup, hours=hours(6, 48))
    out = []
    for make in order:
        inj = make(at, str(rng.choice(wss)))
        out.append(inj)
        at = inj.end + timedelta(hours=hours(24, 60))
    return out


def _synth_event(inj: Any, table: Any) -> Event:
    """The ground truth of one injection: every series with rows in its scope."""
    import pyarrow.compute as pc

    ws = table.column("workspace").to_numpy(zero_copy_only=False)
    keys = table.column("key_id").to_numpy(zero_copy_only=False)
    model = pc.coalesce(table.column("model_served"), table.column("model_requested"))
    models = model.to_numpy(zero_copy_only=False)
    t = table.column("received_at").cast("int64").to_numpy()
    scope = inj.active(t)
    if getattr(inj, "workspace", None):
        scope &= ws == inj.workspace
    if getattr(inj, "model", None):
        scope &= models == inj.model
    series = {("workspace", str(w)) for w in set(ws[scope])}
    series |= {("key", str(k)) for k in set(keys[scope])}
    series |= {("model", str(m)) for m in set(models[scope]) if m is not None}
    target = getattr(inj, "model", None) or inj.workspace or "all"
    metrics = frozenset(_SYNTH_METRICS[inj.label])
    return Event(inj.label, str(target), inj.start, inj.end, metrics, frozenset(series), 0.0)


def build_synth(seed: int, days: int, rate: float = 400.0) -> Run:
    """``workbench.synth`` traffic with injections, read through the same series SQL."""
    import duckdb
    import pyarrow as pa

    from workbench import synth

    rng = np.random.default_rng(seed)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    injections = _synth_injections(rng, start, 14)
    end = start + timedelta(days=days)
    if injections[-1].end > end - timedelta(days=1):
        raise ValueError(f"{days} days are too few for the synth injections")
    tables = synth.generate(start, end, rate_per_hour=rate, seed=seed, inject=injections)
    table = pa.concat_tables(list(tables))
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("traffic", table)
    frame = series_from(con, "traffic", since=start, until=end)
    con.close()
    events = [_synth_event(i, table) for i in injections]
    sim = SynthSim(events, start, days, 14, table.num_rows)
    return Run(sim, frame, days - 14)  # type: ignore[arg-type]


Chosen = list[tuple[str, Callable[..., list[Anomaly]], dict[str, Any]]]


def _report(runs: Sequence[Run], chosen: Chosen) -> None:
    """Side-by-side scores and recall by kind of the chosen detectors on ``runs``."""
    print(
        f"{'detector':18s} {'precision':>9s} {'recall':>7s} {'F1':>6s} {'delay h':>8s} "
        f"{'false/day':>9s} {'alerts':>7s} {'detect s':>8s}  params"
    )
    kinds: dict[str, dict[str, str]] = {}
    for name, fn, params in chosen:
        sc, alerts, spent = evaluate(runs, fn, params)
        kinds[name] = _kind_recall(runs, alerts)
        print(
            f"{name:18s} {sc.precision:9.3f} {sc.recall:7.3f} {sc.f1:6.3f} "
            f"{sc.median_delay_h:8.1f} {sc.false_per_day:9.2f} {sc.alerts:7d} "
            f"{spent:8.1f}  {params}"
        )
    print("\nrecall by kind (detected/injected):")
    names = [n for n, _, _ in chosen]
    print(f"{'kind':20s} " + " ".join(f"{n:>18s}" for n in names))
    for kind in sorted(kinds[names[0]]):
        print(f"{kind:20s} " + " ".join(f"{kinds[n][kind]:>18s}" for n in names))


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.anomalies", description=__doc__)
    p.add_argument("--days", type=int, default=75)
    p.add_argument("--tune-seeds", default="1,2,3,4")
    p.add_argument("--seeds", default="101,102,103")
    p.add_argument("--stl", action="store_true", help="also report ours with seasonal=stl")
    p.add_argument("--synth", action="store_true", help="also score on workbench.synth traffic")
    p.add_argument("--synth-days", type=int, default=60)
    a = p.parse_args(argv)
    tune_seeds = [int(s) for s in a.tune_seeds.split(",")]
    seeds = [int(s) for s in a.seeds.split(",")]
    if set(tune_seeds) & set(seeds):
        p.error("tune and report seeds must differ")
    t0 = time.perf_counter()
    tune_runs = [build(s, a.days) for s in tune_seeds]
    runs = [build(s, a.days) for s in seeds]
    rows = sum(r.sim.table.num_rows for r in tune_runs + runs)
    n_series = runs[0].frame.select("level", "entity", "metric").unique().height
    print(
        f"traffic: {len(tune_runs) + len(runs)} seeds x {a.days} days, {rows:,} requests, "
        f"{n_series} hourly series per seed, built in {time.perf_counter() - t0:.1f}s"
    )
    detectors: list[tuple[str, Callable[..., list[Anomaly]], list[dict[str, Any]]]] = [
        ("ours", ours_detector, OURS_GRID),
        ("static threshold", static_detector, STATIC_GRID),
        ("plain z-score", zscore_detector, ZSCORE_GRID),
    ]
    print(f"tuning on seeds {tune_seeds}:")
    chosen = [(name, fn, tune(tune_runs, fn, grid)) for name, fn, grid in detectors]
    if a.stl:
        ours = dict(chosen[0][2])
        chosen.insert(1, ("ours (STL)", ours_detector, {**ours, "seasonal": "stl"}))
    events = sum(len(r.sim.events) for r in runs)
    days = sum(r.scored_days for r in runs)
    print(f"\nreport on seeds {seeds}: {events} injected events over {days:g} scored days")
    _report(runs, chosen)
    if a.synth:
        t1 = time.perf_counter()
        synth_runs = [build_synth(sd, a.synth_days) for sd in seeds]
        n_rows = sum(r.sim.rows for r in synth_runs)  # type: ignore[attr-defined]
        n_ev = sum(len(r.sim.events) for r in synth_runs)
        print(
            f"\nworkbench.synth cross-check (same tuned parameters, no re-tuning): seeds "
            f"{seeds} x {a.synth_days} days, {n_rows:,} requests, {n_ev} injections, "
            f"built in {time.perf_counter() - t1:.1f}s"
        )
        _report(synth_runs, [c for c in chosen if "STL" not in c[0]])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
