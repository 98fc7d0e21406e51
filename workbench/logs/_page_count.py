"""Per-hour match counts for explorer pages, from the rollups where the filters allow.

An hour the window covers whole and whose minute rollups mirror its requests files is
counted from its rollup rows (the current hour rollup, else the minute rollups: a few
hundred rows); the other hours (cut by the window's edges, or without rollups) are
counted on raw rows. Exact in both cases: the filters (time, workspace, key, model,
status) are rollup dimensions.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ._files import parquet_source
from ._filters import Filters
from ._rollup_read import covers_hour, current_hour_rollup

if TYPE_CHECKING:
    import duckdb

Hour = tuple[str, int, list[Path]]  # (date, hour, the partition's requests files)


def _rollup_files(root: Path, f: Filters, hour: Hour) -> list[Path] | None:
    """The rollup files that count ``hour`` exactly, or None (count raw rows)."""
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
    return current_hour_rollup(root, date, h, minute)


def _grouped(
    cur: duckdb.DuckDBPyConnection, source: str, where: str, params: list[object], n: str
) -> dict[tuple[str, int], int]:
    sql = f"SELECT date, hour, CAST({n} AS BIGINT) FROM {source} WHERE {where} GROUP BY date, hour"
    return {(d, int(h)): int(c) for d, h, c in cur.sql(sql, params=params).fetchall()}


def hour_counts(
    cur: duckdb.DuckDBPyConnection, root: Path, f: Filters, hours: list[Hour]
) -> list[int]:
    """The number of rows matching ``f`` in each of ``hours`` (in the same order)."""
    rolled: list[Path] = []
    raw: list[Path] = []
    for hour in hours:
        files = _rollup_files(root, f, hour)
        if files is None:
            raw += hour[2]
        else:
            rolled += files
    found: dict[tuple[str, int], int] = {}
    if rolled:
        where, params = f.sql("minute")
        source = parquet_source(rolled, union_by_name=False)
        found.update(_grouped(cur, source, where, params, "sum(requests)"))
    if raw:
        where, params = f.sql()
        found.update(
            _grouped(cur, parquet_source(raw, union_by_name=True), where, params, "count(*)")
        )
    return [found.get((date, h), 0) for date, h, _ in hours]
