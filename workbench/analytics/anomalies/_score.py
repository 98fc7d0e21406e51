"""Scoring one series: expected value, noise, robust z and drift statistics per bucket.

``expected`` is a seasonal profile (see :mod:`._baseline`) plus a robust trailing level
(magnitudes) or a pooled trailing rate (rates). The noise has two parts: the sampling
noise of the metric's kind at that bucket's volume (Poisson, compound Poisson, ``1/sqrt(n)``
relative, binomial), scaled by a robust *dispersion* (1.4826 x the trailing median
absolute raw z, never below 1: real traffic is burstier than Poisson), and a small floor.
The drift statistic is a two-sided CUSUM of the z measured against the slow level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np
from numpy.typing import NDArray

from ._baseline import DAY_S, F, log_offset, seasonal_profile, trailing
from ._config import DetectorConfig
from ._metrics import Metric

Ints = NDArray[np.int64]
B = NDArray[np.bool_]


@dataclass
class Scores:
    """Per-bucket scores of one series (arrays of equal length). ``value`` is the value
    judged: the bucket's own, or its pooled value when it was under the minimum volume."""

    value: F
    expected: F
    sd: F
    z: F
    drift_up: F
    drift_down: F
    valid: B
    regime: str


def _buckets(window: timedelta, bucket_s: int) -> int:
    return max(1, int(window.total_seconds() // bucket_s))


def seasonal_component(ts: Ints, y: F, bucket_s: int, cfg: DetectorConfig) -> tuple[F, str]:
    """The seasonal value at every bucket, refitted once a day on the history before it.

    Returns the component and the richest regime used (``weekly-stl``, ``weekly-how``,
    ``daily``, ``none``)."""
    size = y.size
    out = np.zeros(size)
    if bucket_s > 3600 or DAY_S % bucket_s or cfg.seasonal == "none" or size == 0:
        return out, "none"
    per_day = DAY_S // bucket_s
    idx = ts // bucket_s
    hist_max = _buckets(cfg.history, bucket_s)
    starts = [0, *np.flatnonzero((idx % per_day == 0) & (np.arange(size) > 0)).tolist()]
    regime = "none"
    weekly_prof: F | None = None
    weekly_at = -(10**9)
    for i, a in enumerate(starts):
        b = starts[i + 1] if i + 1 < len(starts) else size
        lo = max(0, a - hist_max)
        if a < 2 * per_day:
            continue
        if a >= 14 * per_day:  # weekly profile, refitted once a week
            period = 7 * per_day
            if weekly_prof is None or a - weekly_at >= period:
                weekly_prof = seasonal_profile(y[lo:a], idx[lo:a] % period, period, cfg.seasonal)
                weekly_at = a
            out[a:b] = weekly_prof[idx[a:b] % period]
            regime = f"weekly-{cfg.seasonal}"
        else:  # hour-of-day profile, refitted daily
            prof = seasonal_profile(y[lo:a], idx[lo:a] % per_day, per_day, "how")
            out[a:b] = prof[idx[a:b] % per_day]
            regime = "daily"
    return out, regime


def _sd_model(metric: Metric, e: F, n: F) -> F:
    vol = np.maximum(n, 1.0)
    if metric.kind == "count":
        return np.sqrt(np.maximum(e, 1.0))
    if metric.kind == "sum":
        return np.maximum(e, 0.0) * np.sqrt(2.0 / vol)
    if metric.kind == "rate":
        p = np.clip(e, 0.002, 0.998)
        return np.sqrt(p * (1 - p) / vol)
    return np.maximum(e, 0.0) / np.sqrt(vol)


def _cusum(z: F, ok: B, k: float, cap: float) -> tuple[F, F]:
    up = np.zeros(z.size)
    down = np.zeros(z.size)
    cu = cd = 0.0
    for t in range(z.size):
        if ok[t]:
            cu = min(max(0.0, cu + z[t] - k), cap)
            cd = min(max(0.0, cd - z[t] - k), cap)
        up[t], down[t] = cu, cd
    return up, down


def _expected(
    metric: Metric, ts: Ints, x: F, n: F, bucket_s: int, cfg: DetectorConfig
) -> tuple[F, F, F, str]:
    """(expected, slow expected, count of history points in the level window, regime)."""
    if metric.kind == "rate":
        num = np.where(n > 0, np.nan_to_num(x) * n, 0.0)
        w, wl = _buckets(cfg.rate_window, bucket_s), _buckets(cfg.drift_window, bucket_s)
        with np.errstate(all="ignore"):
            e = trailing(num, w, "sum") / trailing(n, w, "sum")
            el = trailing(num, wl, "sum") / trailing(n, wl, "sum")
        have = trailing(np.where(n > 0, 1.0, np.nan), w, "count")
        return e, el, have, "pooled"
    count = metric.kind == "count"
    c = log_offset(x, count=count)
    usable = np.isfinite(x) & ((n > 0) | (metric.kind in ("count", "sum")))
    with np.errstate(all="ignore"):
        y = np.where(usable, np.log(np.maximum(x, 0.0) + c), np.nan)
    season = np.zeros(x.size)
    regime = "none"
    if metric.seasonal:
        season, regime = seasonal_component(ts, y, bucket_s, cfg)
    u = y - season
    w = _buckets(cfg.level_window, bucket_s)
    level = trailing(u, w, "median")
    slow = trailing(u, _buckets(cfg.drift_window, bucket_s), "median")
    e = np.maximum(np.exp(season + level) - c, 0.0)
    el = np.maximum(np.exp(season + slow) - c, 0.0)
    return e, el, trailing(u, w, "count"), regime


def pool_small(x: F, n: F, min_vol: float, max_k: int, positive: bool) -> tuple[F, F]:
    """Values and volumes where a bucket under ``min_vol`` is pooled with the buckets
    before it (up to ``max_k`` in all) until the volume reaches ``min_vol``: the
    volume-weighted mean (of logs, for positive metrics). Buckets that never reach it
    keep their own (small) volume."""
    ok = (n > 0) & np.isfinite(x) & ((x > 0) | (not positive))
    w = np.where(ok, n, 0.0)
    with np.errstate(all="ignore"):
        fx = np.log(np.where(ok, x, 1.0)) if positive else np.where(ok, x, 0.0)
    cw = np.concatenate([[0.0], np.cumsum(w)])
    cv = np.concatenate([[0.0], np.cumsum(w * fx)])
    xp, npool = x.copy(), n.copy()
    need = n < min_vol
    pos = np.arange(x.size)
    for k in range(2, max_k + 1):
        idx = np.flatnonzero(need & (pos >= k - 1))
        if idx.size == 0:
            break
        total = cw[idx + 1] - cw[idx + 1 - k]
        reached = total >= min_vol
        sel = idx[reached]
        mean = (cv[sel + 1] - cv[sel + 1 - k]) / total[reached]
        xp[sel] = np.exp(mean) if positive else mean
        npool[sel] = total[reached]
        need[sel] = False
    return xp, npool


def score_series(
    ts: Ints, x: F, n: F, metric: Metric, bucket_s: int, cfg: DetectorConfig
) -> Scores:
    """Scores of one series: ``ts`` bucket starts (epoch s), ``x`` values (NaN: none),
    ``n`` volumes. Rates, means and quantiles of small buckets are judged pooled with the
    buckets before them (:func:`pool_small`, up to ``cfg.pool_window``)."""
    e, el, have, regime = _expected(metric, ts, x, n, bucket_s, cfg)
    min_vol = cfg.min_volume.get(metric.name, metric.min_volume)
    x0, n0 = x, n
    if metric.kind in ("rate", "mean", "quantile"):
        pool = _buckets(cfg.pool_window, bucket_s)
        x, n = pool_small(x, n, min_vol, pool, metric.positive)
    sdm = _sd_model(metric, e, n)
    with np.errstate(all="ignore"):
        raw = (x - e) / sdm
    wd = _buckets(cfg.dispersion_window, bucket_s)
    absraw = np.abs(raw)
    disp = np.fmax(1.4826 * trailing(absraw, wd, "median"), trailing(absraw, wd, "q90") / 1.645)
    disp = np.clip(np.nan_to_num(disp, nan=1.0), 1.0, 50.0)
    if metric.kind == "rate":
        floor, floor_l = np.full(x.size, cfg.rate_floor), np.full(x.size, cfg.rate_floor)
    else:
        floor, floor_l = cfg.rel_floor * e, cfg.rel_floor * el
    sd = np.sqrt((disp * sdm) ** 2 + floor**2)
    sdl = np.sqrt((disp * _sd_model(metric, el, n)) ** 2 + floor_l**2)
    with np.errstate(all="ignore"):
        z = (x - e) / sd
        zl = (x - el) / sdl
    volume = np.maximum(np.nan_to_num(x), np.nan_to_num(e)) if metric.kind == "count" else n
    valid = (
        np.isfinite(z) & np.isfinite(zl) & (volume >= min_vol) & (have >= cfg.min_points) & (sd > 0)
    )
    # drift: each bucket on its own (pooled buckets overlap: correlated noise), down to a
    # third of the minimum volume (the CUSUM adds evidence up over many buckets)
    if metric.kind != "count":
        sdl0 = np.sqrt((disp * _sd_model(metric, el, n0)) ** 2 + floor_l**2)
        with np.errstate(all="ignore"):
            zl = (x0 - el) / sdl0
        volume = n0 * 3
    steady = np.isfinite(zl) & (volume >= min_vol) & (have >= cfg.min_points)
    if metric.name not in cfg.drift_metrics:
        steady[:] = False
    clip = cfg.cusum_k + cfg.cusum_clip
    zc = np.clip(np.where(steady, zl, 0.0), -clip, clip)
    up, down = _cusum(zc, steady, cfg.cusum_k, cfg.cusum_h)
    # the drift fires while the statistic sits at its decision level and still grows
    up = np.where(zc >= cfg.cusum_k, up, 0.0)
    down = np.where(-zc >= cfg.cusum_k, down, 0.0)
    return Scores(x, e, sd, np.where(valid, z, np.nan), up, down, valid, regime)
