"""Time windows over the log (partition pruning) and bucket widths; the parsing of time
arguments is :mod:`workbench._time`, shared by the whole library."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from workbench._time import TimeLike, duration, parse_duration, parse_time

__all__ = ["TimeLike", "Window", "auto_bucket", "duration", "parse_duration", "parse_time"]


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
