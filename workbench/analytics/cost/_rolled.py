"""Which files answer a window: cost-rollup files for whole hours, raw rows for the rest.

An hour the window holds whole whose cost-rollup files mirror its requests files
(:mod:`workbench.logstore._rollup_cost`) is read from the rollup. An hour cut by the
window's edges (or whose rollup is missing or behind) is read from raw rows, cut to the
window; for the exact-cache rule a mirrored edge hour is read from the rollup's
per-request lists (``at``/``costs``/``ids``), so no body is parsed at read time. Hours
without a mirrored rollup have their bodies parsed (the same code that writes the
rollup, :mod:`workbench.logstore._rollup_cost_compute`), so both paths give the same
rows.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.logstore.schema import partition_dir

from ._window import Window

_HOUR = timedelta(hours=1)

if TYPE_CHECKING:
    import duckdb
    import polars as pl


@dataclass
class Plan:
    """The files answering a window."""

    whole: list[Path] = field(default_factory=list)
    """Cost-rollup files of the hours the window holds whole."""
    edge: list[Path] = field(default_factory=list)
    """Cost-rollup files of mirrored hours the window cuts."""
    edge_raw: list[Path] = field(default_factory=list)
    """Requests files of the hours that are not read whole from the rollup."""
    unrolled: list[Path] = field(default_factory=list)
    """Requests files of the hours without a mirrored rollup (parsed at read time)."""


def lake_root(root: Path | None) -> Path:
    """The lake directory (``root``, or the configured one)."""
    from workbench.home import logs_dir

    return (Path(root) if root is not None else logs_dir()).resolve()


def _whole(window: Window, start: datetime) -> bool:
    return (window.start is None or window.start <= start) and (
        window.end >= start + timedelta(hours=1)
    )


def _whole_day(window: Window, date: str) -> bool:
    start = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC)
    return (window.start is None or window.start <= start) and (
        window.end >= start + timedelta(days=1)
    )


def _names(folder: Path) -> list[str]:
    """The visible ``*.parquet`` file names of a folder (none when it is missing)."""
    try:
        with os.scandir(folder) as it:
            return sorted(
                e.name
                for e in it
                if e.name.endswith(".parquet") and not e.name.startswith(".") and e.is_file()
            )
    except (FileNotFoundError, NotADirectoryError):
        return []


def _subdirs(folder: Path, prefix: str) -> list[str]:
    try:
        with os.scandir(folder) as it:
            return sorted(e.name[len(prefix) :] for e in it if e.name.startswith(prefix))
    except (FileNotFoundError, NotADirectoryError):
        return []


def hour_names(root: Path, window: Window) -> Iterator[tuple[str, int, list[str]]]:
    """``(date, hour, requests file names)`` of the hours overlapping the window."""
    first = window.start.strftime("%Y-%m-%d") if window.start else ""
    last = window.end.strftime("%Y-%m-%d")
    for date in _subdirs(root / "requests", "date="):
        if not first <= date <= last:
            continue
        for raw in _subdirs(root / "requests" / f"date={date}", "hour="):
            if not raw.isdigit():
                continue
            start = datetime.strptime(date, "%Y-%m-%d").replace(hour=int(raw), tzinfo=UTC)
            if start >= window.end or (window.start and start + _HOUR <= window.start):
                continue
            names = _names(root / "requests" / partition_dir(date, int(raw)))
            if names:
                yield date, int(raw), names


def plan(window: Window, root: Path) -> Plan:
    """Sort the window's hours into rollup reads and raw reads (see the module doc); a
    day the window holds whole with a current cost day file is read from that file (its
    name proves which requests files it was made from: its hours are not listed)."""
    from workbench.logstore._rollup_cost import cost_dir, current_day_file

    out = Plan()
    days: dict[str, dict[int, list[str]]] = {}
    for date, hour, names in hour_names(root, window):
        days.setdefault(date, {})[hour] = names
    for date, listed in days.items():
        day = current_day_file(root, date, listed) if _whole_day(window, date) else None
        if day is not None:
            out.whole.append(day)
            continue
        for hour, names in sorted(listed.items()):
            start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
            rel = partition_dir(date, hour)
            cost = cost_dir(root) / rel
            got = [cost / n for n in names] if _names(cost) == names else None
            if got is not None and _whole(window, start):
                out.whole += got
                continue
            out.edge_raw += [root / "requests" / rel / n for n in names]
            if got is None:
                out.unrolled += out.edge_raw[-len(names) :]
            else:
                out.edge += got
    return out


def source(files: list[Path], *, union: bool = False) -> str:
    """``read_parquet([...])`` over these files (paths quoted for SQL)."""
    names = ", ".join("'" + str(p).replace("'", "''") + "'" for p in files)
    extra = ", union_by_name = true" if union else ""
    return f"read_parquet([{names}], hive_partitioning = false{extra})"


def window_sql(window: Window, column: str = "received_at") -> tuple[str, list[Any]]:
    """The condition on ``column`` for ``[start, end)`` and its parameters."""
    if window.start is None:
        return f"{column} < ?", [window.end]
    return f"{column} >= ? AND {column} < ?", [window.start, window.end]


def raw_frame(cur: duckdb.DuckDBPyConnection, window: Window, files: list[Path]) -> pl.DataFrame:
    """The rollup inputs of the raw rows of ``files`` inside the window (the frame
    :mod:`workbench.logstore._rollup_cost_compute` computes from)."""
    from workbench.logstore._rollup_cost_compute import INPUTS, _frame

    if not files:
        import polars as pl
        import pyarrow as pa

        empty = pa.schema([(n, t) for n, t in INPUTS.items()]).empty_table()
        return _frame(empty).with_columns(pl.lit(None, pl.String).alias("_file"))
    src = source(files, union=True)
    present = {row[0] for row in cur.sql(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    cols = ", ".join(f'"{c}"' for c in INPUTS if c in present)
    where, params = window_sql(window)
    sql = f"SELECT {cols}, file_index::BIGINT AS _fi FROM {src} WHERE {where}"
    got = cur.sql(sql, params=params).arrow()
    table = got.read_all() if hasattr(got, "read_all") else got
    names = [f.name for f in files]
    index = table.column("_fi").to_pylist()
    import polars as pl

    return _frame(table).with_columns(
        pl.Series("_file", [names[i] for i in index], dtype=pl.String)
    )


def row_count(cur: duckdb.DuckDBPyConnection, p: Plan, raw: pl.DataFrame) -> tuple[int, Any]:
    """The window's request count and first ``received_at`` (None: no request): the
    rollup's ``rows`` of whole hours plus the raw rows of the rest."""
    n, first = raw.height, raw["received_at"].min() if raw.height else None
    if p.whole:
        sql = f"SELECT sum(n), min(first_at) FROM {source(p.whole)} WHERE kind = 'rows'"
        got = cur.sql(sql).fetchall()[0]
        if got[0] is not None:
            n += int(got[0])
            first = got[1] if first is None else min(first, got[1])
    return n, first
