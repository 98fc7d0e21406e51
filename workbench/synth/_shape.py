"""The load shape: how many requests each workspace sends in each hour.

Hourly expected counts are ``rate_per_hour * share * diurnal(hour) * weekly(day) *
day-to-day noise * injected factors``; the realised count is Poisson, and the arrival
times are uniform within the hour (a Poisson process with an hourly-constant rate).
Times are UTC; the ``business`` profile peaks in the early afternoon on weekdays, the
``batch`` profile is flatter and keeps running at night and on weekends.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from ._catalog import Workspace

__all__ = ["hour_grid", "hourly_factor", "hourly_counts"]

_HOUR_US = 3_600_000_000


def _diurnal(hour: np.ndarray, shape: str) -> np.ndarray:
    h = hour.astype(np.float64)
    if shape == "batch":
        return 0.7 + 0.3 * np.exp(-((h - 15.0) ** 2) / (2 * 5.0**2)) + 0.4 * (h < 5)
    # two office peaks (late morning, mid afternoon) over a night floor
    morning = np.exp(-((h - 10.5) ** 2) / (2 * 2.2**2))
    afternoon = np.exp(-((h - 15.0) ** 2) / (2 * 2.6**2))
    return 0.12 + 1.0 * morning + 1.1 * afternoon


def _weekly(weekday: np.ndarray, shape: str) -> np.ndarray:
    weekend = weekday >= 5
    if shape == "batch":
        return np.where(weekend, 0.8, 1.0)
    return np.where(weekend, 0.3, np.where(weekday == 4, 0.9, 1.0))


def hourly_factor(hour_starts_us: np.ndarray, shape: str) -> np.ndarray:
    """Load multiplier of each hour, normalised so that its mean over a week is 1."""
    week = np.arange(7 * 24)
    norm = float(np.mean(_diurnal(week % 24, shape) * _weekly(week // 24, shape)))
    hours = hour_starts_us // _HOUR_US
    hod = hours % 24
    weekday = (hours // 24 + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    return _diurnal(hod, shape) * _weekly(weekday, shape) / norm


def hour_grid(start: datetime, end: datetime) -> np.ndarray:
    """Epoch microseconds of every whole hour that overlaps ``[start, end)``."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware (UTC) datetimes")
    if end <= start:
        raise ValueError("end must be after start")
    first = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    n = int(np.ceil((end - first) / timedelta(hours=1)))
    return np.int64(first.timestamp() * 1_000_000) + np.arange(n, dtype=np.int64) * _HOUR_US


def hourly_counts(
    rng: np.random.Generator,
    hours_us: np.ndarray,
    workspaces: tuple[Workspace, ...],
    rate_per_hour: float,
    factors: np.ndarray,
) -> np.ndarray:
    """Poisson counts, shape ``(hours, workspaces)``; ``factors`` (same shape) are the
    injected rate multipliers."""
    shares = np.array([w.share for w in workspaces], dtype=np.float64)
    shares = shares / shares.sum()
    days = (hours_us - hours_us[0]) // (24 * _HOUR_US)
    lam = np.empty((len(hours_us), len(workspaces)))
    for j, ws in enumerate(workspaces):
        day_noise = rng.lognormal(0.0, 0.08, size=int(days.max()) + 1)[days]
        hour_noise = rng.lognormal(0.0, 0.05, size=len(hours_us))
        lam[:, j] = rate_per_hour * shares[j] * hourly_factor(hours_us, ws.shape)
        lam[:, j] *= day_noise * hour_noise
    return rng.poisson(lam * factors)


def arrival_times(
    rng: np.random.Generator, hours_us: np.ndarray, counts: np.ndarray, lo: int, hi: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sorted arrival times (epoch us) and their workspace index, clipped to ``[lo, hi)``.

    ``counts`` has shape ``(hours, workspaces)``.
    """
    flat = counts.ravel()
    hour_idx = np.repeat(np.repeat(np.arange(len(hours_us)), counts.shape[1]), flat)
    ws_idx = np.repeat(np.tile(np.arange(counts.shape[1]), len(hours_us)), flat)
    t = hours_us[hour_idx] + rng.integers(0, _HOUR_US, size=len(hour_idx))
    order = np.argsort(t, kind="stable")
    t, ws_idx = t[order], ws_idx[order]
    keep = (t >= lo) & (t < hi)
    return t[keep], ws_idx[keep]


def utc(dt: datetime) -> datetime:
    """``dt`` as an aware UTC datetime (naive is taken as UTC)."""
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
