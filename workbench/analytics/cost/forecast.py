"""Month-to-date spend and a forecast to the end of the month.

Method (documented in ``docs/cost.md``):

1. History: the spend of each *complete* UTC day in the ``lookback_days`` before today,
   from the first day the log has any request (days before the gateway ran are not
   counted as zero), missing days in between as zero.
2. Level: the mean daily spend of that history. Day-of-week profile: with at least two
   weeks of history, each weekday's mean spend divided by the level (a weekday never
   seen gets 1); with less, a flat profile.
3. Forecast = month-to-date + the rest of today (the fitted spend of today times the
   fraction of the day left) + the fitted spend of every remaining day of the month.
4. Prediction interval: the residuals of the history against its fitted values give a
   daily standard deviation ``s``; the remaining spend's variance is taken as
   ``s^2 * (f^2 + n)`` (``f``: fraction of today left, ``n``: whole days left; days
   independent), and the interval is the forecast +/- ``z * sqrt(variance)`` (z from the
   normal distribution for ``level``), never below the month-to-date.
   With no complete day of history yet, today's spend so far scaled to a full day is the
   level and the interval is left open (``low``/``high`` None).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from statistics import NormalDist
from typing import Any

from .spend import month_start


@dataclass
class Forecast:
    """The month's spend so far and where it is heading."""

    month_to_date: float
    forecast: float
    low: float | None
    high: float | None
    level_per_day: float
    days_of_history: int
    weekday_profile: list[float]
    month_end: datetime
    now: datetime
    method: str
    history: Any = field(repr=False, default=None)  # polars frame: day, cost_usd, fitted

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (without the history frame)."""
        return {
            "month_to_date_usd": self.month_to_date,
            "forecast_usd": self.forecast,
            "low_usd": self.low,
            "high_usd": self.high,
            "level_usd_per_day": self.level_per_day,
            "days_of_history": self.days_of_history,
            "weekday_profile": self.weekday_profile,
            "month_end": self.month_end.isoformat(),
            "now": self.now.isoformat(),
            "method": self.method,
        }


def _daily(root: Path | None, start: datetime, end: datetime) -> dict[date, float]:
    """Spend per UTC day in ``[start, end)``, from the rollups (no raw-row scan)."""
    from workbench.logs import spend

    df = spend(start, end, by="day", root=root)
    days = [d if isinstance(d, date) else date.fromisoformat(str(d)) for d in df["day"]]
    return {d: float(c or 0.0) for d, c in zip(days, df["cost_usd"].to_list(), strict=True)}


def _profile(days: list[date], values: list[float], level: float) -> list[float]:
    if len(days) < 14 or level <= 0:
        return [1.0] * 7
    sums, counts = [0.0] * 7, [0] * 7
    for d, v in zip(days, values, strict=True):
        sums[d.weekday()] += v
        counts[d.weekday()] += 1
    return [(sums[w] / counts[w]) / level if counts[w] else 1.0 for w in range(7)]


def _history(
    root: Path | None, today: datetime, lookback_days: int
) -> tuple[list[date], list[float]]:
    """Complete days before ``today`` (midnight), from the first day with data."""
    daily = _daily(root, today - timedelta(days=lookback_days), today)
    if not daily:
        return [], []
    first = min(daily)
    days = [first + timedelta(days=i) for i in range((today.date() - first).days)]
    return days, [daily.get(d, 0.0) for d in days]


def forecast(
    *,
    root: Path | None = None,
    now: datetime | None = None,
    lookback_days: int = 28,
    level: float = 0.95,
) -> Forecast:
    """Month-to-date spend and its forecast to the end of the UTC month (see module doc)."""
    import polars as pl

    now = (now or datetime.now(UTC)).astimezone(UTC)
    start = month_start(now)
    month_end = (start + timedelta(days=32)).replace(day=1)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days, values = _history(root, today, lookback_days)
    so_far = _daily(root, start, now) if now > start else {}
    mtd = sum(so_far.values())
    left_today = (today + timedelta(days=1) - now).total_seconds() / 86400
    future = [today.date() + timedelta(days=i) for i in range(1, (month_end - today).days)]
    if days:
        lvl = sum(values) / len(days)
        prof = _profile(days, values, lvl)
        fitted = [lvl * prof[d.weekday()] for d in days]
        resid = [v - f for v, f in zip(values, fitted, strict=True)]
        sd = (sum(r * r for r in resid) / (len(resid) - 1)) ** 0.5 if len(resid) > 1 else 0.0
    else:
        elapsed = 1.0 - left_today
        lvl = (so_far.get(today.date(), 0.0) / elapsed) if elapsed > 0 else 0.0
        prof, fitted, sd = [1.0] * 7, [], None
    rest = lvl * prof[today.weekday()] * left_today + sum(lvl * prof[d.weekday()] for d in future)
    total = mtd + rest
    low = high = None
    if sd is not None:
        half = NormalDist().inv_cdf(0.5 + level / 2) * sd * (left_today**2 + len(future)) ** 0.5
        low, high = max(mtd, total - half), total + half
    history = pl.DataFrame(
        {"day": days, "cost_usd": values, "fitted": fitted},
        schema={"day": pl.Date, "cost_usd": pl.Float64, "fitted": pl.Float64},
    )
    method = (
        f"mean of {len(days)} complete day(s) x day-of-week profile"
        if days
        else "today's spend so far scaled to a day (no complete day of history)"
    )
    return Forecast(
        month_to_date=mtd,
        forecast=total,
        low=low,
        high=high,
        level_per_day=lvl,
        days_of_history=len(days),
        weekday_profile=prof,
        month_end=month_end,
        now=now,
        method=method,
        history=history,
    )
