"""Rollup trees that mirror the requests tree file for file.

The minute, verdict and cost rollups each keep, for every requests file
``requests/date=D/hour=HH/<name>.parquet``, a file of the same name under their own tree.
This module holds what they share: listing a partition's visible files, splitting raw rows
that span partitions into one file per ``(date, hour)`` (the bulk writer), making a
partition mirror the requests partition again, and telling a reader whether it does.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa

from ._parquet import write_table_atomic
from .schema import partition_dir


def visible(folder: Path) -> dict[str, Path]:
    """The Parquet files a reader sees in ``folder`` (no hidden or temporary ones)."""
    if not folder.is_dir():
        return {}
    return {
        p.name: p for p in folder.glob("*.parquet") if not p.name.startswith(".") and p.is_file()
    }


def rows_by_hour(table: pa.Table) -> dict[tuple[str, int], list[int]]:
    """Row indices of ``table`` per ``(date, hour)`` partition of ``received_at``."""
    import polars as pl

    ts = table.column("received_at").cast(pa.timestamp("us", tz="UTC"))
    keys = pl.from_arrow(ts)
    assert isinstance(keys, pl.Series)
    days, hours = keys.dt.strftime("%Y-%m-%d").to_list(), keys.dt.hour().to_list()
    groups: dict[tuple[str, int], list[int]] = {}
    for i, key in enumerate(zip(days, hours, strict=True)):
        groups.setdefault((key[0], int(key[1])), []).append(i)
    return groups


def write_by_hour(
    table: pa.Table,
    tree: Path,
    name: str,
    compute: Callable[[pa.Table], pa.Table],
    *,
    overwrite: bool = False,
) -> None:
    """``compute`` of raw rows spanning any partitions, one ``name`` file per ``(date,
    hour)`` under ``tree``; an existing file is kept unless ``overwrite``."""
    if table.num_rows == 0:
        return
    for (date, hour), idx in rows_by_hour(table).items():
        dest = tree / partition_dir(date, hour) / name
        if overwrite or not dest.exists():
            write_table_atomic(compute(table.take(pa.array(idx))), dest)


def sync(
    root: Path,
    tree: Path,
    date: str,
    hour: int,
    write_one: Callable[[Path], None],
    *,
    rebuild: bool = False,
) -> int:
    """Make ``tree``'s partition mirror the requests partition (``rebuild``: rewrite every
    file) with ``write_one(requests_file)``; returns the files written. New files are
    written before orphans are removed; a reader compares names (:func:`mirrored`), so it
    reads raw rows for the hour meanwhile."""
    rel = partition_dir(date, hour)
    raw, rolled = visible(Path(root) / "requests" / rel), visible(tree / rel)
    missing = sorted(raw) if rebuild else sorted(raw.keys() - rolled.keys())
    for name in missing:
        write_one(raw[name])
    for name in sorted(rolled.keys() - raw.keys()):
        rolled[name].unlink(missing_ok=True)
    return len(missing)


def mirrored(tree: Path, date: str, hour: int, names: list[str]) -> list[Path] | None:
    """``tree``'s files of ``(date, hour)`` when they are exactly ``names`` (the hour's
    requests files), else None."""
    got = visible(tree / partition_dir(date, hour))
    if sorted(got) != sorted(names):
        return None
    return [got[n] for n in sorted(got)]
