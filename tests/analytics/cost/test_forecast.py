"""Forecast to month end: known answers on constant-rate and weekly-pattern logs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench.analytics.cost import forecast

from ._logs import record, write

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)  # a Wednesday


def _every_6h(start: datetime, end: datetime, cost_of) -> list[dict]:
    """A request every 6 hours from ``start`` (few partitions: the writer fsyncs each)."""
    out, t = [], start
    while t < end:
        out.append(record(t, cost_usd=cost_of(t)))
        t += timedelta(hours=6)
    return out


def test_constant_rate(wb_home: Path) -> None:
    # a request at 03:00, 09:00, 15:00, 21:00 since April 20, $0.06 each: $0.24 a day
    start = datetime(2026, 4, 20, 3, 0, tzinfo=UTC)
    write(wb_home / "logs", _every_6h(start, NOW, lambda t: 0.06))
    fc = forecast(now=NOW)
    # May 1..19 full days + 2 requests today (03:00, 09:00)
    assert fc.month_to_date == pytest.approx(19 * 0.24 + 0.12)
    # the rest of today (half a day) + May 21..31 (11 days) at 0.24/day
    assert fc.forecast == pytest.approx(fc.month_to_date + 0.12 + 11 * 0.24)
    assert fc.forecast == pytest.approx(31 * 0.24)
    assert fc.level_per_day == pytest.approx(0.24)
    assert fc.days_of_history == 28
    assert fc.weekday_profile == pytest.approx([1.0] * 7)
    assert fc.low == pytest.approx(fc.forecast) and fc.high == pytest.approx(fc.forecast)
    assert fc.month_end == datetime(2026, 6, 1, tzinfo=UTC)


def test_weekday_profile_and_interval(wb_home: Path) -> None:
    # weekdays cost $2.40/day, weekends $0.48/day; four weeks of history
    start = datetime(2026, 4, 22, 3, 0, tzinfo=UTC)
    write(
        wb_home / "logs",
        _every_6h(start, NOW, lambda t: 0.12 if t.weekday() >= 5 else 0.60),
    )
    fc = forecast(now=NOW)
    level = (20 * 2.4 + 8 * 0.48) / 28
    assert fc.level_per_day == pytest.approx(level)
    assert fc.weekday_profile[0] == pytest.approx(2.4 / level)
    assert fc.weekday_profile[6] == pytest.approx(0.48 / level)
    # rest of Wed (half) + Thu..Fri 21,22 + Sat/Sun 23,24 + Mon..Fri 25..29 + Sat/Sun 30,31
    expected_rest = 1.2 + 2 * 2.4 + 2 * 0.48 + 5 * 2.4 + 2 * 0.48
    assert fc.forecast == pytest.approx(fc.month_to_date + expected_rest)
    # the profile fits the history exactly: no residual, no interval width
    assert fc.high - fc.low == pytest.approx(0.0, abs=1e-9)


def test_noisy_history_gives_an_interval(wb_home: Path) -> None:
    start = datetime(2026, 5, 1, 3, 0, tzinfo=UTC)
    write(wb_home / "logs", _every_6h(start, NOW, lambda t: 0.06 * (1 + t.day % 3)))
    fc = forecast(now=NOW)
    assert fc.low is not None and fc.high is not None
    assert fc.low < fc.forecast < fc.high
    assert fc.low >= fc.month_to_date


def test_first_day_without_history(wb_home: Path) -> None:
    start = datetime(2026, 5, 20, 3, 0, tzinfo=UTC)
    write(wb_home / "logs", _every_6h(start, NOW, lambda t: 0.06))
    fc = forecast(now=NOW)
    assert fc.days_of_history == 0
    assert fc.level_per_day == pytest.approx(0.24)  # 0.12 in half a day
    assert fc.forecast == pytest.approx(0.12 + 0.12 + 11 * 0.24)
    assert fc.low is None and fc.high is None
