"""Reading the rollups (and, where needed, projected raw rows) with DuckDB.

A query reads, for each hour the window covers entirely, the hour rollup when it is
current (made from exactly the minute-rollup files the hour holds now), and the minute
rollups otherwise (hours cut by the window's edges, open hours, hours with a late file).
Both have the same schema (an hour row's ``minute`` is the hour's start), so one
``read_parquet`` reads the mix and every aggregate gives the answer the minute rollups
alone would give. A window that covers a whole day reads the day's one file (its hour
rollups concatenated) when it is current.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ._db import consistent
from ._files import hour_partitions, parquet_source, requests_source
from ._filters import Filters

if TYPE_CHECKING:
    import duckdb
    import polars as pl


def _root(root: Path | None) -> Path:
    from workbench.home import logs_dir

    return (Path(root) if root is not None else logs_dir()).resolve()


def covers_hour(f: Filters, date: str, hour: int) -> bool:
    """Whether the window of ``f`` holds the whole hour ``(date, hour)``."""
    start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
    w = f.window
    return (w.start is None or w.start <= start) and (
        w.end is None or w.end >= start + timedelta(hours=1)
    )


def rollup_files(root: Path, f: Filters, hourly: bool = True) -> list[Path]:
    """The rollup files answering the window of ``f``: the current hour rollup of each
    hour the window covers whole (when ``hourly``), minute rollups for the rest."""
    from workbench.logstore.rollups import rollup_dir

    files: list[Path] = []
    days: dict[str, list[tuple[int, list[Path]]]] = {}
    for date, hour, minute in hour_partitions(rollup_dir(root), f.window):
        days.setdefault(date, []).append((hour, minute))
    for date, hours in days.items():
        day = current_day_rollup(root, f, date, hours) if hourly else None
        if day is not None:
            files.append(day)
            continue
        for hour, minute in hours:
            whole = hourly and covers_hour(f, date, hour)
            files += current_hour_rollup(root, date, hour, minute) if whole else minute
    return files


def current_day_rollup(
    root: Path, f: Filters, date: str, hours: list[tuple[int, list[Path]]]
) -> Path | None:
    """The day file of ``date`` when the window covers the whole day and the file was
    made from the current hour rollups of exactly these hours."""
    from workbench.logstore.rollups import day_rollup_dir, day_rollup_name, hour_rollup_name
    from workbench.logstore.schema import partition_dir

    if not (covers_hour(f, date, 0) and covers_hour(f, date, 23)):
        return None
    names = {hour: hour_rollup_name(p.name for p in minute) for hour, minute in hours}
    candidate = day_rollup_dir(root) / partition_dir(date, 0) / day_rollup_name(names)
    return candidate if candidate.is_file() else None


def current_hour_rollup(root: Path, date: str, hour: int, minute: list[Path]) -> list[Path]:
    """``[the hour rollup]`` of ``(date, hour)`` when it was made from exactly the
    ``minute`` rollup files, else ``minute`` itself."""
    from workbench.logstore.rollups import hour_rollup_dir, hour_rollup_name
    from workbench.logstore.schema import partition_dir

    name = hour_rollup_name(p.name for p in minute)
    candidate = hour_rollup_dir(root) / partition_dir(date, hour) / name
    return [candidate] if candidate.is_file() else minute


def _source(root: Path, f: Filters, hourly: bool) -> str | None:
    """The ``read_parquet(...)`` of the rollup files of the window, or None if none."""
    files = rollup_files(root, f, hourly)
    return parquet_source(files, union_by_name=False) if files else None


def _floor_minute(t: datetime | None) -> datetime | None:
    return None if t is None else t.replace(second=0, microsecond=0)


def _ceil_minute(t: datetime | None) -> datetime | None:
    if t is None:
        return None
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + timedelta(minutes=1)


def minute_filters(f: Filters) -> Filters:
    """The filters widened to whole minutes (the rollups' resolution)."""
    w = dataclasses.replace(
        f.window, start=_floor_minute(f.window.start), end=_ceil_minute(f.window.end)
    )
    return dataclasses.replace(f, window=w)


def query_rollups(
    root: Path | None,
    f: Filters,
    sql: str,
    params: list[object] | None = None,
    *,
    hourly: bool = True,
) -> pl.DataFrame | None:
    """Run ``sql`` with ``{src}`` standing for the filtered rollup rows; None when the lake
    has no rollups. ``params`` bind the placeholders of ``sql`` after the filter's.
    ``hourly=False`` reads minute rollups only (for results finer than an hour)."""
    base = _root(root)
    f = minute_filters(f)
    where, where_params = f.sql("minute")
    args = [*where_params, *(params or [])]

    def run(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
        source = _source(base, f, hourly)
        if source is None:
            return None
        text = sql.replace("{src}", f"(SELECT * FROM {source} WHERE {where})")
        return cur.sql(text, params=args).pl()

    return consistent(base, run)


def query_raw(
    root: Path | None, f: Filters, sql: str, params: list[object] | None = None
) -> pl.DataFrame:
    """Run ``sql`` with ``{src}`` standing for the filtered raw rows (project in ``sql``)."""
    base = _root(root)
    where, where_params = f.sql()
    args = [*where_params, *(params or [])]

    def run(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame:
        source = requests_source(base, f.window)
        return cur.sql(
            sql.replace("{src}", f"(SELECT * FROM {source} WHERE {where})"), params=args
        ).pl()

    return consistent(base, run)
