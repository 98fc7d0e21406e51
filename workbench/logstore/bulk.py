"""Bulk writes into the log lake: many rows at once, without the spool.

For loads that do not come from the gateway (synthetic traffic, imports): tables that
already have the lake's schema go straight to Parquet, one file per ``(date, hour)``
partition per table, ``requests/date=D/hour=HH/part-<id>.parquet``, written atomically
(hidden temp files, fsync, rename, fsync of the directories; the waits of a table's files
overlap in a thread pool), with the rollup of each file
(:func:`workbench.logstore.rollups.roll_up`) written right after it.

The bulk writer takes the lake's writer lock for the whole load, so it refuses to run
while a live ``LogWriter`` (a gateway) owns the lake (:class:`WriterLockedError`), and a
gateway cannot open the lake while a load runs. It runs pending migrations first, as the
writer does. It does not de-duplicate: ``request_id`` values must be new.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ..home import logs_dir
from ._parquet import COMPRESSION
from .migrations import migrate
from .rollups import roll_up, roll_up_hours
from .schema import partition_dir, schema
from .spool import new_segment_id
from .writer import WriterLockedError, _acquire_lock

__all__ = ["BulkReport", "WriterLockedError", "lake_lock", "write_tables"]

_HOUR_US = 3_600_000_000


@dataclass
class BulkReport:
    """What :func:`write_tables` wrote."""

    rows: int = 0
    files: int = 0
    tables: int = 0
    part_ids: list[str] = field(default_factory=list)  # files are part-<id>.parquet


@contextmanager
def lake_lock(root: Path) -> Iterator[None]:
    """Hold the lake's writer lock (raises :class:`WriterLockedError` if it is taken)."""
    fh = _acquire_lock(Path(root) / "_meta" / "writer.lock")
    try:
        yield
    finally:
        fh.close()


def _check_schema(table: pa.Table) -> pa.Table:
    target = schema()
    if table.schema.names != target.names:
        missing = sorted(set(target.names) - set(table.schema.names))
        extra = sorted(set(table.schema.names) - set(target.names))
        raise ValueError(f"table does not have the lake schema (missing {missing}, extra {extra})")
    if not table.schema.equals(target, check_metadata=False):
        table = table.cast(target)  # e.g. a non-nullable flag; types must already agree
    if table.column("request_id").null_count or table.column("received_at").null_count:
        raise ValueError("request_id and received_at may not be null")
    return table.replace_schema_metadata(target.metadata)


def _hour_slices(table: pa.Table) -> Iterator[tuple[str, int, pa.Table]]:
    """``(date, hour, rows)`` of each partition, rows sorted by ``received_at``."""
    us = pc.cast(table.column("received_at"), pa.int64()).to_numpy()
    if len(us) > 1 and (np.diff(us) < 0).any():
        order = np.argsort(us, kind="stable")
        table, us = table.take(pa.array(order)), us[order]
    hours = us // _HOUR_US
    cuts = np.flatnonzero(np.diff(hours)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(hours)]])
    for s, e in zip(starts, ends, strict=True):
        stamp = np.datetime64(int(hours[s]) * 3600, "s").astype(object)
        yield stamp.strftime("%Y-%m-%d"), stamp.hour, table.slice(int(s), int(e - s))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_one(root: Path, table: pa.Table, part_id: str, pool: ThreadPoolExecutor) -> int:
    """One file per partition: written as hidden temp files, fsynced (in parallel: the
    waits overlap), renamed into place (a reader never sees a partial file), directories
    fsynced; then the rollup of each file (in parallel too)."""
    moves: list[tuple[Path, Path, pa.Table]] = []
    try:
        for date, hour, rows in _hour_slices(table):
            dest = root / "requests" / partition_dir(date, hour) / f"part-{part_id}.parquet"
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(f".{dest.name}.tmp")
            moves.append((tmp, dest, rows))
            pq.write_table(rows, tmp, compression=COMPRESSION)
        list(pool.map(_fsync, [tmp for tmp, _, _ in moves]))
        for tmp, dest, _ in moves:
            os.replace(tmp, dest)
        dirs = {dest.parent for _, dest, _ in moves}
        dirs |= {d.parent for d in dirs} | {root / "requests"}
        list(pool.map(_fsync, sorted(dirs)))
    finally:
        for tmp, _, _ in moves:
            tmp.unlink(missing_ok=True)
    list(pool.map(lambda m: roll_up(root, m[2], part_id), moves))
    return len(moves)


def write_tables(root: Path | None, tables: Iterable[pa.Table]) -> BulkReport:
    """Write ``tables`` (each with exactly :func:`~workbench.logstore.schema`) into the lake.

    ``root`` defaults to ``logs_dir()``. Holds the writer lock throughout: raises
    :class:`WriterLockedError` at once if a ``LogWriter`` holds it. Each table becomes one
    file per hour it spans, plus its rollup files; a table is only consumed from the
    iterable while the lock is held, so a generator can produce them lazily. At the end
    the hours that ended get their hour rollups and day files (what long-range
    dashboard aggregates read).
    """
    base = Path(root) if root is not None else logs_dir()
    report = BulkReport()
    with lake_lock(base), ThreadPoolExecutor(max_workers=8) as pool:
        migrate(base)
        for table in tables:
            if not table.num_rows:
                continue
            table = _check_schema(table)
            part_id = new_segment_id()
            report.files += _write_one(base, table, part_id, pool)
            report.part_ids.append(part_id)
            report.rows += table.num_rows
            report.tables += 1
        if report.rows:
            roll_up_hours(base)  # hour rollups and day files of the hours that ended
    return report
