"""The Parquet files of the hours a time window touches (partition pruning by listing).

DuckDB's ``union_by_name`` reads the footer of every file a glob matches before any
filter applies, so a 1-hour query on 30 days of data would open every file; listing the
``date=/hour=`` folders of the window first and passing that list keeps a query to the
files of the hours it covers.
"""

from __future__ import annotations

from pathlib import Path

from ._db import EMPTY_TABLE
from ._time import Window

HIVE_TYPES = "{'date': 'VARCHAR', 'hour': 'INTEGER'}"


def _value(name: str) -> str | None:
    key, sep, value = name.partition("=")
    return value if sep else None


def hour_partitions(tree: Path, window: Window) -> list[tuple[str, int, list[Path]]]:
    """``(date, hour, visible files)`` of each ``tree/date=D/hour=HH/`` folder the window
    overlaps, oldest first (folders without files left out)."""
    lo = (window.start.strftime("%Y-%m-%d"), window.start.hour) if window.start else None
    hi = (window.end.strftime("%Y-%m-%d"), window.end.hour) if window.end else None
    if not tree.is_dir():
        return []
    out: list[tuple[str, int, list[Path]]] = []
    for day in sorted(tree.iterdir()):
        date = _value(day.name)
        if date is None or (lo and date < lo[0]) or (hi and date > hi[0]) or not day.is_dir():
            continue
        hours = []
        for hour_dir in day.iterdir():
            raw = _value(hour_dir.name)
            if raw is not None and raw.isdigit():
                hours.append((int(raw), hour_dir))
        for hour, hour_dir in sorted(hours):
            key = (date, hour)
            if (lo and key < lo) or (hi and key > hi):
                continue
            files = sorted(p for p in hour_dir.glob("*.parquet") if not p.name.startswith("."))
            if files:
                out.append((date, hour, files))
    return out


def hour_files(tree: Path, window: Window) -> list[Path]:
    """The visible ``*.parquet`` files under ``tree/date=D/hour=HH/`` in the window."""
    return [p for _, _, files in hour_partitions(tree, window) for p in files]


def parquet_source(files: list[Path], *, union_by_name: bool) -> str:
    """``read_parquet([...])`` over exactly ``files`` (file-system paths, quoted)."""
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    union = ", union_by_name = true" if union_by_name else ""
    return f"read_parquet([{listed}], hive_partitioning = true{union}, hive_types = {HIVE_TYPES})"


def requests_source(root: Path, window: Window) -> str:
    """The FROM source of the raw rows of the window (an empty table when none)."""
    files = hour_files(root / "requests", window)
    if not files:
        return EMPTY_TABLE
    return parquet_source(files, union_by_name=True)
