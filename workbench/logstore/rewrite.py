"""Removing rows from the lake: rewrite the partitions (and dead letters) that hold them.

Erasure and retention (:mod:`workbench.governance.erasure`,
:mod:`workbench.governance.retention`) both come down to "delete the rows matching a
predicate". :func:`remove_rows` does it through the lake's single
:class:`~workbench.logstore.LogWriter`, inside :meth:`LogWriter.exclusive` (the spool is
flushed first, then no flush runs until the rewrite is done), so no record being written
races the rewrite:

- each ``requests/date=D/hour=HH/`` file holding a matching row is rewritten without
  those rows (same schema, the other rows unchanged) as a new ``compact-<id>.parquet``
  (or dropped when nothing is left), and the partition's new content is swapped in
  atomically for readers (:func:`workbench.logstore._layout.swap`);
- the partition's minute rollups are made to mirror it again, and its hour and day
  rollups recomputed where they existed, so dashboards agree with the raw rows;
- dead-letter lines whose original record matches are dropped (the file rewritten
  atomically under the writer's dead-letter lock).

The report names, per rewritten file, how many rows were removed and the SHA-256 of the
file's bytes before and after: proof of the change that never contains the data.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import _layout, rollups
from ._fs import atomic_write_bytes, ensure_dir, fsync_dir
from ._parquet import COMPRESSION
from .compaction import COMPACT_PREFIX, _partitions, _visible
from .deadletter import DEAD_LETTER_DIR
from .schema import partition_dir
from .spool import new_segment_id
from .writer import LogWriter

__all__ = ["FileChange", "RewriteReport", "file_sha256", "remove_rows"]

HourFilter = Callable[[str, int], bool]
RecordFilter = Callable[[dict[str, Any]], bool]


@dataclass
class FileChange:
    """One rewritten file: rows removed and kept, content hashes before and after."""

    path: str  # relative to the lake root
    removed: int
    kept: int
    sha256_before: str
    sha256_after: str | None  # None: the file was dropped (no row left)
    new_path: str | None


@dataclass
class RewriteReport:
    """What :func:`remove_rows` did."""

    files_scanned: int = 0
    rows_removed: int = 0
    files: list[FileChange] = field(default_factory=list)
    deadletter_removed: int = 0
    deadletter_files: list[FileChange] = field(default_factory=list)

    def by_partition(self) -> dict[str, int]:
        """Rows removed per ``date=D/hour=HH`` partition."""
        out: dict[str, int] = {}
        for change in self.files:
            part = "/".join(change.path.split("/")[1:3])
            out[part] = out.get(part, 0) + change.removed
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the audit entry records)."""
        data = asdict(self)
        data["by_partition"] = self.by_partition()
        return data


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _matches(path: Path, remove: pc.Expression) -> int:
    try:
        return int(ds.dataset(str(path), format="parquet").count_rows(filter=remove))
    except pa.ArrowInvalid as exc:  # a column the file lacks: none of its rows can match
        if "No match for FieldRef" in str(exc):
            return 0
        raise


def _rewrite_file(
    root: Path, path: Path, staging: Path, remove: pc.Expression
) -> tuple[FileChange, str | None]:
    table = pq.read_table(path, partitioning=None)
    kept = table.filter(~remove)
    removed = table.num_rows - kept.num_rows
    new_name: str | None = None
    after: str | None = None
    if kept.num_rows:
        new_name = f"{COMPACT_PREFIX}{new_segment_id()}.parquet"
        with open(staging / new_name, "wb") as fh:
            pq.write_table(kept, fh, compression=COMPRESSION)
            fh.flush()
            os.fsync(fh.fileno())
        after = file_sha256(staging / new_name)
    rel = path.relative_to(root)
    change = FileChange(
        path=str(rel),
        removed=removed,
        kept=kept.num_rows,
        sha256_before=file_sha256(path),
        sha256_after=after,
        new_path=str(rel.parent / new_name) if new_name else None,
    )
    return change, new_name


def _rewrite_partition(
    writer: LogWriter, date: str, hour: int, remove: pc.Expression, report: RewriteReport
) -> bool:
    """Rewrite one partition's files that hold matching rows; True if any did."""
    root = writer.root
    partition = root / "requests" / partition_dir(date, hour)
    files = _visible(partition)
    report.files_scanned += len(files)
    hits = [p for p in files if _matches(p, remove)]
    if not hits:
        return False
    staging = root / _layout.STAGING_DIR / f"rewrite-{date}-{hour:02d}-{new_segment_id()}"
    ensure_dir(staging)
    try:
        new_names: list[str] = []
        for path in files:
            if path in hits:
                change, name = _rewrite_file(root, path, staging, remove)
                report.files.append(change)
                report.rows_removed += change.removed
                if name:
                    new_names.append(name)
            else:
                os.link(path, staging / path.name)
        fsync_dir(staging)
        _layout.swap(root, partition, staging, new_names, [p.name for p in hits])
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    _refresh_rollups(root, date, hour)
    return True


def _refresh_rollups(root: Path, date: str, hour: int) -> None:
    """Minute rollups mirror the partition again; an hour rollup that existed is
    recomputed from them (or removed when the hour is empty)."""
    rollups.sync_partition(root, date, hour)
    if any(rollups.hour_rollup_dir(root).joinpath(partition_dir(date, hour)).glob("*.parquet")):
        rollups.roll_up_hour(root, date, hour)


def _refresh_days(root: Path, dates: set[str]) -> None:
    """Redo the day files of the rewritten days that had one (once per day)."""
    for date in sorted(dates):
        if any(rollups.day_rollup_dir(root).joinpath(partition_dir(date, 0)).glob("*.parquet")):
            rollups.roll_up_day(root, date)


def _rewrite_dead_letters(
    writer: LogWriter, remove_record: RecordFilter, report: RewriteReport
) -> None:
    folder = writer.root / DEAD_LETTER_DIR
    with writer.deadletter_lock:
        for path in sorted(folder.glob("*.jsonl")):
            lines = path.read_bytes().splitlines(keepends=True)
            kept: list[bytes] = []
            for line in lines:
                try:
                    entry = json.loads(line)
                    record = entry.get("record") if isinstance(entry, dict) else None
                except ValueError:
                    record = None
                if isinstance(record, dict) and remove_record(record):
                    continue
                kept.append(line)
            removed = len(lines) - len(kept)
            if not removed:
                continue
            before = file_sha256(path)
            if kept:
                atomic_write_bytes(path, b"".join(kept))
            else:
                path.unlink()
                fsync_dir(folder)
            report.deadletter_removed += removed
            rel = str(path.relative_to(writer.root))
            report.deadletter_files.append(
                FileChange(
                    path=rel,
                    removed=removed,
                    kept=len(kept),
                    sha256_before=before,
                    sha256_after=file_sha256(path) if kept else None,
                    new_path=rel if kept else None,
                )
            )


def remove_rows(
    writer: LogWriter,
    remove: pc.Expression,
    remove_record: RecordFilter,
    *,
    hours: HourFilter | None = None,
) -> RewriteReport:
    """Delete every row matching ``remove`` (an Arrow expression that is never null: guard
    nullable columns with ``is_valid()``) from the lake of ``writer``, and every dead
    letter whose original record ``remove_record`` accepts. ``hours`` limits the
    partitions scanned. Runs inside :meth:`LogWriter.exclusive`."""
    report = RewriteReport()
    with writer.exclusive():
        dates: set[str] = set()
        for date, hour, _path in _partitions(writer.root / "requests"):
            if hours is None or hours(date, hour):
                if _rewrite_partition(writer, date, hour, remove, report):
                    dates.add(date)
        _refresh_days(writer.root, dates)
        _rewrite_dead_letters(writer, remove_record, report)
    return report
