"""The cost rollup: what the cost suggestions read, per requests file, kept as the log grows.

Every requests file ``requests/date=D/hour=HH/<name>.parquet`` has a cost-rollup file of
the same name, ``rollups/cost/date=D/hour=HH/<name>.parquet``, holding the exact-cache
keys of its cacheable rows with their counts, cost and first request, the ``max_tokens``
histograms per key and model, and the short-traffic totals per model
(:mod:`._rollup_cost_compute` describes the rows). The exact-cache key is computed here,
when the rows are written, so a reader never parses a body again.

A request lives in exactly one requests file, so counts and costs add up across files and
hours; a key's first request over several files is the one with the smallest
``(first_at, first_cost)``. A reader (:mod:`workbench.analytics.cost`) uses an hour's
cost files only while their names are exactly the requests files' names (a file being
written, or a compaction in progress, makes the hour read raw rows, never a wrong
answer).

Kept like the verdict rollup: the writer writes a file's cost rollup with its minute
rollup (:func:`workbench.logstore.rollups.roll_up_file`, and :func:`write_partition_cost`
for the bulk writer); :func:`sync_partition` (compaction, erasure/retention rewrites, the
writer's repair on open, ``workbench logs rollups rebuild``) makes the tree mirror the
requests tree again, so a lake written before this rollup existed gets it on the next
writer open. Versioned by the ``workbench.cost_rollup_version`` schema metadata.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from . import _mirror
from ._parquet import read_columns, write_table_atomic
from ._rollup_cost_compute import (
    COST_ROLLUP_VERSION,
    INPUTS,
    SHORT_LIMITS,
    compute_cost,
    cost_schema,
)
from .schema import partition_dir

LEVEL = "cost"
DAY_LEVEL = "cost_day"

__all__ = [
    "COST_ROLLUP_VERSION",
    "SHORT_LIMITS",
    "compute_cost",
    "cost_day_dir",
    "cost_dir",
    "current_day_file",
    "roll_up_day",
    "cost_schema",
    "mirrored",
    "sync_partition",
    "write_cost",
    "write_partition_cost",
]


def cost_dir(root: Path) -> Path:
    """``root/rollups/cost``: the cost-rollup tree of the lake at ``root``."""
    return Path(root) / "rollups" / LEVEL


def write_cost(root: Path, requests_file: Path, table: pa.Table | None = None) -> None:
    """Write the cost rollup of one requests file to its mirror path (``table``: the
    file's rows when the caller has them in memory; else the file is read)."""
    root = Path(root)
    if table is None:
        table = read_columns(requests_file, INPUTS)
    rel = requests_file.parent.relative_to(root / "requests")
    write_table_atomic(compute_cost(table), cost_dir(root) / rel / requests_file.name)


def write_partition_cost(
    root: Path, table: pa.Table, name: str, *, overwrite: bool = False
) -> None:
    """Write the cost rollup of raw rows spanning any partitions, one ``name`` file per
    ``(date, hour)`` (the bulk writer's files ``requests/date=D/hour=HH/<name>``); an
    existing file is kept unless ``overwrite``."""
    _mirror.write_by_hour(table, cost_dir(root), name, compute_cost, overwrite=overwrite)


def sync_partition(root: Path, date: str, hour: int, *, rebuild: bool = False) -> int:
    """Make the cost partition mirror the requests partition (``rebuild``: recompute
    every file); returns the files written (:func:`workbench.logstore._mirror.sync`)."""
    root = Path(root)
    return _mirror.sync(
        root, cost_dir(root), date, hour, lambda f: write_cost(root, f), rebuild=rebuild
    )


def mirrored(root: Path, date: str, hour: int, names: list[str]) -> list[Path] | None:
    """The cost files of ``(date, hour)`` when they are exactly ``names`` (the hour's
    requests files), else None."""
    return _mirror.mirrored(cost_dir(root), date, hour, names)


# -- day files -------------------------------------------------------------------------


def cost_day_dir(root: Path) -> Path:
    """``root/rollups/cost_day``: one file per ended day, ``date=D/day-<digest>.parquet``:
    the day's cost files merged (:func:`workbench.logstore._rollup_cost_merge.merge_cost`;
    key rows keep their first two requests), so a long window opens one file a day."""
    return Path(root) / "rollups" / DAY_LEVEL


def day_file_name(hours: dict[int, list[str]]) -> str:
    """The day file's name for these ``{hour: requests file names}``."""
    text = "\n".join(f"{h}:{n}" for h in sorted(hours) for n in sorted(hours[h]))
    return f"day-{hashlib.sha256(text.encode()).hexdigest()[:20]}.parquet"


def _day_sources(root: Path, date: str) -> dict[int, list[Path]] | None:
    """The cost files of each hour of ``date``, or None when one does not mirror."""
    out: dict[int, list[Path]] = {}
    for hour in range(24):
        raw = _mirror.visible(Path(root) / "requests" / partition_dir(date, hour))
        if not raw:
            continue
        got = mirrored(root, date, hour, list(raw))
        if got is None:
            return None
        out[hour] = got
    return out


def current_day_file(root: Path, date: str, hours: dict[int, list[str]]) -> Path | None:
    """The day file of ``date`` when it was made from exactly these requests files."""
    path = cost_day_dir(root) / f"date={date}" / day_file_name(hours)
    return path if path.is_file() else None


def roll_up_day(root: Path, date: str, *, now: datetime | None = None) -> bool:
    """Write the day file of an ended ``date`` from its cost files (unless the current one
    exists; not while an hour's cost files are behind) and remove older ones; True when
    one was written."""
    end = datetime.strptime(date, "%Y-%m-%d").replace(tzinfo=UTC) + timedelta(days=1)
    if end > (now or datetime.now(UTC)):
        return False
    sources = _day_sources(root, date)
    folder = cost_day_dir(root) / f"date={date}"
    old = _mirror.visible(folder)
    name = day_file_name({h: [p.name for p in ps] for h, ps in (sources or {}).items()})
    wrote = bool(sources) and name not in old
    if wrote and sources:
        from ._rollup_cost_merge import merge_cost

        paths = [str(p) for h in sorted(sources) for p in sources[h]]
        table = pq.read_table(paths, schema=cost_schema(), partitioning=None)
        write_table_atomic(merge_cost(table), folder / name)
    for other, path in old.items():
        if other != name or not sources:
            path.unlink(missing_ok=True)
    return wrote
