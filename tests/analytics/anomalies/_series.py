"""Hand-made series with known anomalies for the detector tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl

T0 = datetime(2025, 3, 3, tzinfo=UTC)  # a Monday
HOURS_28D = 28 * 24


def load_shape(hours: int) -> np.ndarray:
    """Diurnal curve (night at a fifth of the afternoon) and quieter weekends."""
    h = np.arange(hours)
    diurnal = 0.2 + 0.8 * np.exp(-((((h % 24) - 14.0) / 4.5) ** 2))
    weekly = np.where((h // 24) % 7 >= 5, 0.45, 1.0)
    return np.asarray(diurnal * weekly)


def frame(
    metric: str, values: np.ndarray, volumes: np.ndarray, entity: str = "ws-a"
) -> pl.DataFrame:
    """A series frame (one workspace, one metric) of hourly buckets from ``T0``."""
    ts = [T0 + timedelta(hours=i) for i in range(values.size)]
    return pl.DataFrame(
        {
            "level": "workspace",
            "entity": entity,
            "metric": metric,
            "ts": pl.Series(ts, dtype=pl.Datetime("us", "UTC")),
            "value": values.astype(float),
            "volume": volumes.astype(float),
        }
    )


def requests(seed: int, hours: int = HOURS_28D, peak: float = 200.0) -> np.ndarray:
    """Seasonal Poisson request counts."""
    rng = np.random.default_rng(seed)
    return rng.poisson(peak * load_shape(hours)).astype(float)


def p95(seed: int, volumes: np.ndarray, median_ms: float = 800.0) -> np.ndarray:
    """p95 of ``volume`` lognormal latencies per bucket."""
    rng = np.random.default_rng(seed)
    out = np.full(volumes.size, np.nan)
    for i, n in enumerate(volumes.astype(int)):
        if n:
            out[i] = np.quantile(median_ms * rng.lognormal(0.0, 0.35, n), 0.95)
    return out


def rate(seed: int, volumes: np.ndarray, p: np.ndarray | float) -> np.ndarray:
    """Observed share of ``volume`` Bernoulli(p) trials per bucket."""
    rng = np.random.default_rng(seed)
    hits = rng.binomial(volumes.astype(int), np.broadcast_to(p, volumes.shape))
    with np.errstate(all="ignore"):
        return np.where(volumes > 0, hits / volumes, np.nan)


def mean_tokens(seed: int, volumes: np.ndarray, scale: np.ndarray | float = 1.0) -> np.ndarray:
    """Mean of ``volume`` lognormal token counts (median 600) per bucket, times ``scale``."""
    rng = np.random.default_rng(seed)
    s = np.broadcast_to(scale, volumes.shape)
    out = np.full(volumes.size, np.nan)
    for i, n in enumerate(volumes.astype(int)):
        if n:
            out[i] = float(np.mean(600.0 * s[i] * rng.lognormal(0.0, 0.6, n)))
    return out
