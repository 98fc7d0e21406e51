"""Reading the minute rollups (and, where needed, projected raw rows) with DuckDB."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ._db import consistent
from ._files import hour_files, parquet_source, requests_source
from ._filters import Filters

if TYPE_CHECKING:
    import duckdb
    import polars as pl


def _root(root: Path | None) -> Path:
    from workbench.home import logs_dir

    return (Path(root) if root is not None else logs_dir()).resolve()


def _source(root: Path, f: Filters) -> str | None:
    """The ``read_parquet(...)`` of the rollup files of the window, or None if none."""
    from workbench.logstore.rollups import rollup_dir

    files = hour_files(rollup_dir(root), f.window)
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
    root: Path | None, f: Filters, sql: str, params: list[object] | None = None
) -> pl.DataFrame | None:
    """Run ``sql`` with ``{src}`` standing for the filtered rollup rows; None when the lake
    has no rollups. ``params`` bind the placeholders of ``sql`` after the filter's."""
    base = _root(root)
    f = minute_filters(f)
    where, where_params = f.sql("minute")
    args = [*where_params, *(params or [])]

    def run(cur: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
        source = _source(base, f)
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
