"""Robust baselines: seasonal profiles and trailing robust levels (all causal).

Magnitudes (counts, spend, tokens, latencies) are modelled on a log scale, so a weekly
profile is multiplicative (night traffic a fraction of the day's); rates stay linear.
Every statistic at bucket ``t`` uses buckets before ``t`` only, so a score computed in a
batch over months equals the one the live watcher computed at that time.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from numpy.typing import NDArray

F = NDArray[np.float64]

DAY_S = 86_400
WEEK_S = 7 * DAY_S


def log_offset(x: F, count: bool) -> float:
    """The offset ``c`` of ``log(x + c)``: 1 for counts, 5% of the typical value else."""
    if count:
        return 1.0
    pos = x[np.isfinite(x) & (x > 0)]
    return float(0.05 * np.median(pos)) if pos.size else 1e-9


def row_quantile(rows: F, q: float) -> F:
    """The ``q`` quantile of every row, ignoring NaN (NaN for an all-NaN row).

    One sort of the whole matrix (NaN sorts last) instead of a Python loop per row."""
    ordered = np.sort(rows, axis=1)
    count = np.sum(np.isfinite(rows), axis=1)
    pos = q * np.maximum(count - 1, 0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, np.maximum(count - 1, 0))
    frac = pos - lo
    vlo = np.take_along_axis(ordered, lo[:, None], axis=1)[:, 0]
    vhi = np.take_along_axis(ordered, hi[:, None], axis=1)[:, 0]
    with np.errstate(invalid="ignore"):  # inf - inf in a row of infinities
        mid = np.where(vhi == vlo, vlo, vlo + (vhi - vlo) * frac)
    return np.where(count > 0, mid, np.nan)


def trailing(values: F, window: int, stat: str = "median") -> F:
    """``stat`` of the ``window`` values before each index, ignoring NaN: ``median``,
    ``q90``, ``sum`` (0 when none) or ``count``; NaN where a quantile has no value."""
    n = values.size
    if n == 0 or window < 1:
        return np.full(n, np.nan)
    padded = np.concatenate([np.full(window, np.nan), values[:-1]])
    windows = sliding_window_view(padded, window)[:n]
    if stat == "median":
        return row_quantile(windows, 0.5)
    if stat == "q90":
        return row_quantile(windows, 0.9)
    if stat == "sum":
        return np.asarray(np.nansum(windows, axis=1), dtype=np.float64)
    if stat == "count":
        return np.sum(np.isfinite(windows), axis=1).astype(np.float64)
    raise ValueError(f"unknown statistic {stat!r}")


def _fill(y: F) -> F:
    """NaNs replaced by linear interpolation (edges: nearest value)."""
    ok = np.isfinite(y)
    if ok.all() or not ok.any():
        return np.where(ok, y, 0.0)
    idx = np.arange(y.size)
    return np.interp(idx, idx[ok], y[ok])


def _profile_median(y: F, phase: NDArray[np.int64], period: int, smooth: int) -> F:
    """Median of the detrended values per phase, centred on 0."""
    resid = y - _centred_median(y, smooth)
    cycles = -(-(y.size + int(phase[0])) // period)
    grid = np.full(cycles * period, np.nan)
    grid[int(phase[0]) : int(phase[0]) + y.size] = resid
    prof = row_quantile(grid.reshape(cycles, period).T, 0.5)
    prof = np.where(np.isfinite(prof), prof, 0.0)
    return np.asarray(prof - np.median(prof))


def _centred_median(y: F, width: int) -> F:
    half = width // 2
    padded = np.concatenate([np.full(half, np.nan), y, np.full(width - half - 1, np.nan)])
    return row_quantile(sliding_window_view(padded, width), 0.5)


def _profile_stl(y: F, phase: NDArray[np.int64], period: int) -> F:
    """The seasonal component of an STL fit (weekly period: the robust fit costs ~9x), by
    phase, centred on 0."""
    from statsmodels.tsa.seasonal import STL

    filled = _fill(y)
    fit = STL(filled, period=period, robust=False).fit()
    seasonal = np.asarray(fit.seasonal, dtype=np.float64)
    prof = np.zeros(period)
    last = slice(filled.size - period, filled.size)
    prof[phase[last]] = seasonal[last]
    return prof - np.median(prof)


def seasonal_profile(y: F, phase: NDArray[np.int64], period: int, method: str) -> F:
    """A profile of ``period`` values (one per phase) fitted on the history ``y``."""
    if method == "stl" and period >= 4 and y.size >= 2 * period:
        return _profile_stl(y, phase, period)
    return _profile_median(y, phase, period, smooth=period | 1)
