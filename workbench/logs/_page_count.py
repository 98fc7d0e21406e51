"""Per-hour match counts for explorer pages, from the rollups where the filters allow.

An hour the window covers whole and whose minute rollups mirror its requests files is
counted from rollup rows (the day file when the window covers the whole day, else the
current hour rollup, else the minute rollups: a few hundred rows an hour); the other
hours (cut by the window's edges, or without rollups) are counted on raw rows. Exact in
both cases: the filters (time, workspace, key, model, status) are rollup dimensions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._files import parquet_source
from ._filters import Filters
from ._rollup_read import covers_hour, current_day_rollup, current_hour_rollup

if TYPE_CHECKING:
    import duckdb

Hour = tuple[str, int, list[Path]]  # (date, hour, the partition's requests files)
_UTC_HOUR = "CAST(date_part('hour', timezone('UTC', minute)) AS INTEGER)"


def _mirror(root: Path, f: Filters, hour: Hour) -> list[Path] | None:
    """The minute-rollup files of a whole ``hour`` when they mirror its requests files."""
    from workbench.logstore.rollups import rollup_dir
    from workbench.logstore.schema import partition_dir

    date, h, files = hour
    if not covers_hour(f, date, h):
        return None
    folder = rollup_dir(root) / partition_dir(date, h)
    if not folder.is_dir():
        return None
    minute = sorted(p for p in folder.glob("*.parquet") if not p.name.startswith("."))
    if [p.name for p in minute] != [p.name for p in files]:
        return None  # the rollup tree does not mirror this hour (yet)
    return minute


def _plan(root: Path, f: Filters, hours: list[Hour]) -> tuple[list[Path], list[Path]]:
    """(rollup files, raw files) that count ``hours``: a day's one file when the window
    covers the day and it is current, else each hour's rollups or its raw rows."""
    mirrors = [_mirror(root, f, hour) for hour in hours]
    by_day: dict[str, list[int]] = {}
    for i, (date, _, _) in enumerate(hours):
        by_day.setdefault(date, []).append(i)
    rolled: list[Path] = []
    raw: list[Path] = []
    for date, idx in by_day.items():
        pairs = [(hours[i][1], m) for i in idx if (m := mirrors[i]) is not None]
        if len(pairs) == len(idx):
            day = current_day_rollup(root, f, date, pairs)
            if day is not None:
                rolled.append(day)
                continue
        for i in idx:
            minute = mirrors[i]
            if minute is None:
                raw += hours[i][2]
            else:
                rolled += current_hour_rollup(root, date, hours[i][1], minute)
    return rolled, raw


def _grouped(
    cur: duckdb.DuckDBPyConnection,
    source: str,
    where: str,
    params: list[object],
    n: str,
    hour: str,
) -> dict[tuple[str, int], int]:
    sql = f"SELECT date, {hour} AS h, CAST({n} AS BIGINT) FROM {source} WHERE {where} GROUP BY ALL"
    return {(d, int(h)): int(c) for d, h, c in cur.sql(sql, params=params).fetchall()}


def hour_counts(
    cur: duckdb.DuckDBPyConnection, root: Path, f: Filters, hours: list[Hour]
) -> list[int]:
    """The number of rows matching ``f`` in each of ``hours`` (in the same order)."""
    rolled, raw = _plan(root, f, hours)
    found: dict[tuple[str, int], int] = {}
    if rolled:  # a day file's hive hour is 00: each row's hour comes from `minute`
        where, params = f.sql("minute")
        source = parquet_source(rolled, union_by_name=False)
        found.update(_grouped(cur, source, where, params, "sum(requests)", _UTC_HOUR))
    if raw:
        where, params = f.sql()
        source = parquet_source(raw, union_by_name=True)
        found.update(_grouped(cur, source, where, params, "count(*)", "hour"))
    return [found.get((date, h), 0) for date, h, _ in hours]
