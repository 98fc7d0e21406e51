"""Time arguments, one definition for the whole library: datetimes, dates, ISO strings and
durations (``"24h"``, ``"7d"``, ``"15m"``, ``"90s"``, ``"2w"``) to aware UTC values."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

TimeLike = datetime | date | str | timedelta | None

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)\s*$", re.IGNORECASE)
_UNITS = {"s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(text: str) -> timedelta | None:
    """``"15m"``, ``"24h"``, ``"7d"``, ``"2w"``, ``"30s"`` as a timedelta; None otherwise."""
    m = _DURATION.match(text)
    if m is None:
        return None
    return timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2).lower()])


def parse_time(value: TimeLike, now: datetime | None = None) -> datetime | None:
    """A time argument as an aware UTC datetime.

    Accepts a datetime (naive ones are taken as UTC), a date (its midnight UTC), a
    timedelta or a duration string (that long before ``now``), ``"now"``, or an ISO 8601
    string. ``None`` stays ``None``.
    """
    if value is None:
        return None
    now = now or datetime.now(UTC)
    if isinstance(value, timedelta):
        return now - value
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if not isinstance(value, str):
        raise TypeError(f"not a time: {value!r}")
    if value.strip().lower() == "now":
        return now
    delta = parse_duration(value)
    if delta is not None:
        return now - delta
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"not a time: {value!r} (use an ISO time or a duration like 24h, 7d, 15m)"
        ) from exc
    return parse_time(parsed)


def duration(value: str | float | timedelta) -> timedelta:
    """A positive duration from ``"24h"``-style text, a number of seconds (also as text)
    or a timedelta; ValueError otherwise."""
    if isinstance(value, timedelta):
        delta = value
    elif isinstance(value, int | float):
        delta = timedelta(seconds=float(value))
    else:
        parsed = parse_duration(value)
        if parsed is None:
            try:
                parsed = timedelta(seconds=float(value))
            except ValueError:
                raise ValueError(
                    f"not a duration: {value!r} (use e.g. 90s, 15m, 24h, 7d, 2w)"
                ) from None
        delta = parsed
    if delta <= timedelta(0):
        raise ValueError(f"a duration must be positive: {value!r}")
    return delta
