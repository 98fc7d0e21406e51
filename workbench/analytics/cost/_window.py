"""Time windows over the log and the SQL that selects them (with partition pruning)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._time import parse_duration

if TYPE_CHECKING:
    import duckdb
    import polars as pl


When = datetime | date | str | timedelta | None


def parse_span(text: str) -> timedelta:
    """``"30d"``, ``"24h"``, ``"90m"``, ``"2w"``, ``"45s"`` as a timedelta (ValueError
    otherwise); the library's one duration syntax (:mod:`workbench._time`)."""
    span = parse_duration(text)
    if span is None:
        raise ValueError(f"not a time span: {text!r} (use e.g. 30d, 24h, 90m, 2w)")
    return span


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def resolve(value: When, now: datetime) -> datetime | None:
    """A point in time: a datetime, a date (midnight UTC), an ISO string, or a span
    (``"30d"`` or a timedelta) before ``now``; None stays None."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return now - value
    if isinstance(value, datetime):
        return _utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    span = parse_duration(value)
    if span is not None:
        return now - span
    try:
        return _utc(datetime.fromisoformat(value))
    except ValueError:
        raise ValueError(f"not a time or span: {value!r}") from None


@dataclass(frozen=True)
class Window:
    """A half-open time range ``[start, end)`` of ``received_at`` (UTC)."""

    start: datetime | None
    end: datetime

    @classmethod
    def of(cls, since: When = "30d", until: When = None, now: datetime | None = None) -> Window:
        """The window from ``since`` to ``until`` (default: now)."""
        now = _utc(now) if now is not None else datetime.now(UTC)
        end = resolve(until, now) or now
        start = resolve(since, now)
        if start is not None and start >= end:
            raise ValueError(f"empty window: since {start} is not before until {end}")
        return cls(start, end)

    @property
    def days(self) -> float:
        """Length in days (None start: 0, callers then use the data's own span)."""
        return 0.0 if self.start is None else (self.end - self.start).total_seconds() / 86400

    def where(self) -> tuple[str, list[Any]]:
        """SQL condition on ``requests`` (prunes ``date`` partitions) and its parameters."""
        parts = ["received_at < ?", "date <= ?"]
        params: list[Any] = [self.end, self.end.strftime("%Y-%m-%d")]
        if self.start is not None:
            parts += ["received_at >= ?", "date >= ?"]
            params += [self.start, self.start.strftime("%Y-%m-%d")]
        return " AND ".join(parts), params


def columns(cur: duckdb.DuckDBPyConnection) -> set[str]:
    """Column names of the ``requests`` view (files written before a migration lack some)."""
    return {row[0] for row in cur.sql("DESCRIBE requests").fetchall()}


def run(sql: str, params: list[Any], root: Path | None) -> pl.DataFrame:
    """Run a parameterised query on the log lake (re-run if it raced a compaction)."""
    from workbench.logstore.reader import consistent

    return consistent(root, lambda cur: cur.sql(sql, params=params).pl())


def lake_columns(root: Path | None) -> set[str]:
    """Column names of the lake's ``requests`` view."""
    from workbench.logstore.reader import consistent

    return consistent(root, columns)
