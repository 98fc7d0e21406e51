"""Time arguments: datetimes, ISO strings and durations ("24h", "7d", "15m") to UTC."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Window:
    """A half-open UTC time range ``[start, end)``; either side may be open (None)."""

    start: datetime | None
    end: datetime | None

    @classmethod
    def of(cls, since: TimeLike, until: TimeLike, now: datetime | None = None) -> Window:
        """The window of ``since``/``until`` arguments (evaluated against one ``now``)."""
        now = now or datetime.now(UTC)
        window = cls(parse_time(since, now), parse_time(until, now))
        if window.start and window.end and window.start > window.end:
            raise ValueError(f"since ({window.start}) is after until ({window.end})")
        return window

    def bounds(self, now: datetime | None = None) -> tuple[datetime, datetime]:
        """Closed-in bounds: an open end is ``now``; an open start raises."""
        if self.start is None:
            raise ValueError("this aggregate needs a start time (since=...)")
        return self.start, self.end or (now or datetime.now(UTC))

    def partition_sql(self) -> tuple[str, list[object]]:
        """A predicate on the ``date``/``hour`` partition columns keeping the hours that
        overlap the window (so DuckDB and polars open only those files), and its params."""
        clauses: list[str] = []
        params: list[object] = []
        if self.start is not None:
            d0, h0 = self.start.strftime("%Y-%m-%d"), self.start.hour
            clauses.append("(date > ? OR (date = ? AND hour >= ?))")
            params += [d0, d0, h0]
        if self.end is not None:
            d1, h1 = self.end.strftime("%Y-%m-%d"), self.end.hour
            clauses.append("(date < ? OR (date = ? AND hour <= ?))")
            params += [d1, d1, h1]
        return " AND ".join(clauses), params


def auto_bucket(start: datetime, end: datetime) -> timedelta:
    """A bucket width giving roughly 60-360 points over the range."""
    span = (end - start).total_seconds()
    for limit, width in (
        (3 * 3600, 60),
        (12 * 3600, 300),
        (2 * 86400, 900),
        (8 * 86400, 3600),
        (62 * 86400, 6 * 3600),
    ):
        if span <= limit:
            return timedelta(seconds=width)
    return timedelta(days=1)
