"""Compaction: merge the files of closed hourly partitions into one (or a few) files.

The writer adds one ``part-<segment>.parquet`` per partition per flush (up to 3,600 an
hour at one flush a second). Once an hour is *closed* (it ended ``grace_s`` ago and the
writer holds no unflushed rows for it), its small files are merged into
``compact-<id>.parquet`` files of at most ``max_rows_per_file`` rows, streamed in row
groups of ``row_group_rows`` so memory stays bounded, and swapped in atomically for
readers (:mod:`workbench.logstore._layout`). A record that arrives for a compacted hour
later is written as a new part and merged on the next pass. Compacted files stay where
the glob ``requests/**/*.parquet`` finds them; request ids are unchanged, so the
writer's idempotency holds across compaction. Each closed partition also gets its hour
rollup (:func:`workbench.logstore.rollups.roll_up_hour`; nothing to do when current),
and each ended day its day file (:func:`~workbench.logstore.rollups.roll_up_days`).

Only the writer's process changes the layout: the LogSink runs :func:`compact_closed`
in the background, and :func:`compact` (``workbench logs compact``) opens the lake's
LogWriter itself, so it raises :class:`~workbench.logstore.WriterLockedError` while a
gateway's LogSink holds the lake (which compacts on its own).
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from . import _layout, rollups
from ._fs import ensure_dir, fsync_dir
from ._parquet import COMPRESSION
from .schema import schema
from .spool import new_segment_id
from .writer import LogWriter

log = logging.getLogger(__name__)

COMPACT_PREFIX = "compact-"


@dataclass
class CompactionReport:
    """What one compaction pass did."""

    partitions: int = 0  # partitions compacted
    files_before: int = 0  # files merged (in the compacted partitions)
    files_after: int = 0  # files written
    rows: int = 0  # rows merged
    skipped_open: int = 0  # partitions not closed yet
    skipped_pending: int = 0  # the writer holds unflushed rows for them
    skipped_changed: int = 0  # a file arrived while merging: retried next pass
    failed: int = 0  # partitions left as they were after an error (logged)
    method: str | None = None  # "exchange" or "journal" (the last swap)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _partitions(requests: Path) -> list[tuple[str, int, Path]]:
    found = []
    for path in requests.glob("date=*/hour=*"):
        try:
            date = path.parent.name.split("=", 1)[1]
            hour = int(path.name.split("=", 1)[1])
            datetime.strptime(date, "%Y-%m-%d")
        except (IndexError, ValueError):
            continue
        if path.is_dir():
            found.append((date, hour, path))
    return sorted(found)


def _visible(partition: Path) -> list[Path]:
    """The files a reader's glob sees in ``partition``."""
    return sorted(p for p in partition.glob("*.parquet") if not p.name.startswith("."))


def _is_closed(date: str, hour: int, now: datetime, grace_s: float) -> bool:
    start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
    return start + timedelta(hours=1, seconds=grace_s) <= now


def _plan(files: list[Path], max_rows: int) -> tuple[list[Path], list[Path]]:
    """Split a partition's files into (to merge, to keep as they are).

    Compacted files holding at least half of ``max_rows`` are kept; everything else
    (parts, small compacted files) is merged. Merging a single file is pointless.
    """
    merge: list[Path] = []
    keep: list[Path] = []
    for path in files:
        full = path.name.startswith(COMPACT_PREFIX) and (
            pq.read_metadata(path).num_rows >= max_rows // 2
        )
        (keep if full else merge).append(path)
    if len(merge) < 2:
        return [], files
    # older data first: compacted files, then parts in segment (time) order
    merge.sort(key=lambda p: (not p.name.startswith(COMPACT_PREFIX), p.name))
    return merge, keep


def _dataset(files: list[Path]) -> ds.Dataset:
    """The files as one dataset whose schema is the current one plus any column an input
    has that it lacks (compaction never drops data); missing columns read as null."""
    found = ds.dataset([str(p) for p in files], format="parquet")
    target = pa.unify_schemas([schema(), *(f.physical_schema for f in found.get_fragments())])
    target = target.with_metadata(schema().metadata)
    return ds.dataset([str(p) for p in files], format="parquet", schema=target)


class _Output:
    """Writes rows into ``compact-*.parquet`` files of at most ``max_rows`` rows."""

    def __init__(self, folder: Path, target: pa.Schema, max_rows: int) -> None:
        self.folder, self.target, self.max_rows = folder, target, max_rows
        self.names: list[str] = []
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._in_file = 0

    def write(self, table: pa.Table) -> None:
        table = table.sort_by("received_at")
        while table.num_rows:
            if self._writer is None or self._in_file >= self.max_rows:
                self._open()
            room = self.max_rows - self._in_file
            chunk, table = table.slice(0, room), table.slice(room)
            assert self._writer is not None
            self._writer.write_table(chunk, row_group_size=chunk.num_rows)
            self._in_file += chunk.num_rows
            self.rows += chunk.num_rows

    def _open(self) -> None:
        self.close()
        name = f"{COMPACT_PREFIX}{new_segment_id()}.parquet"
        self.names.append(name)
        self._writer = pq.ParquetWriter(self.folder / name, self.target, compression=COMPRESSION)
        self._in_file = 0

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
            with open(self.folder / self.names[-1], "rb+") as fh:
                os.fsync(fh.fileno())


def _merge(files: list[Path], staging: Path, max_rows: int, row_group_rows: int) -> _Output:
    """Stream ``files`` into new compacted files in ``staging`` (bounded memory)."""
    dataset = _dataset(files)
    out = _Output(staging, dataset.schema, max_rows)
    buffered: list[pa.RecordBatch] = []
    count = 0
    for batch in dataset.to_batches(batch_size=row_group_rows):
        buffered.append(batch)
        count += batch.num_rows
        if count >= row_group_rows:
            out.write(pa.Table.from_batches(buffered, schema=dataset.schema))
            buffered, count = [], 0
    if buffered:
        out.write(pa.Table.from_batches(buffered, schema=dataset.schema))
    out.close()
    fsync_dir(staging)
    return out


def _link(path: Path, dest: Path) -> None:
    try:
        os.link(path, dest)
    except OSError:  # no hard links on this filesystem
        shutil.copy2(path, dest)


def _compact_partition(
    writer: LogWriter, key: tuple[str, int], partition: Path, opts: dict[str, int]
) -> tuple[str, _Output | None, int]:
    """Merge one closed partition; returns (outcome, output, files merged)."""
    merge, keep = _plan(_visible(partition), opts["max_rows"])
    if not merge:
        return "nothing", None, 0
    if key in writer.pending_partitions():
        return "pending", None, 0
    staging = writer.root / _layout.STAGING_DIR / f"{key[0]}-{key[1]:02d}-{new_segment_id()}"
    ensure_dir(staging)
    try:
        out = _merge(merge, staging, opts["max_rows"], opts["row_group_rows"])
        for path in keep:
            _link(path, staging / path.name)
        fsync_dir(staging)
        with writer.layout_lock():  # no flush writes into the lake meanwhile
            if key in writer.pending_partitions():
                return "pending", None, 0
            if _visible(partition) != sorted([*merge, *keep]):
                return "changed", None, 0
            method = _layout.swap(
                writer.root, partition, staging, out.names, [p.name for p in merge]
            )
            rollups.sync_partition(writer.root, *key)  # rollups of the merged files
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already unless we bailed out
    return method, out, len(merge)


def compact_closed(
    writer: LogWriter,
    *,
    grace_s: float = 900.0,
    max_rows_per_file: int = 1_000_000,
    row_group_rows: int = 65_536,
    now: datetime | None = None,
) -> CompactionReport:
    """Compact every closed partition of ``writer``'s lake (safe while it writes)."""
    now = now or datetime.now(UTC)
    opts = {"max_rows": max(1, max_rows_per_file), "row_group_rows": max(1, row_group_rows)}
    report = CompactionReport()
    for date, hour, partition in _partitions(writer.root / "requests"):
        if not _is_closed(date, hour, now, grace_s):
            report.skipped_open += 1
            continue
        try:
            outcome, out, merged = _compact_partition(writer, (date, hour), partition, opts)
            if outcome not in ("pending", "changed"):  # closed and settled: its hour rollup
                rollups.roll_up_hour(writer.root, date, hour)
        except Exception:
            if writer.closed:
                raise
            report.failed += 1  # e.g. an unreadable file: the other partitions go on
            log.exception("compacting %s failed; it is left as it was", partition)
            continue
        if outcome == "pending":
            report.skipped_pending += 1
        elif outcome == "changed":
            report.skipped_changed += 1
        elif out is not None:
            report.partitions += 1
            report.files_before += merged
            report.files_after += len(out.names)
            report.rows += out.rows
            report.method = outcome
            log.info("compacted %s: %d files -> %d", partition, merged, len(out.names))
    try:  # one rollup file per ended day (its hours concatenated)
        rollups.roll_up_days(writer.root, now=now, grace_s=grace_s)
    except Exception:
        if writer.closed:
            raise
        log.exception("writing the day rollups failed; readers use the hour rollups")
    return report


def compact(
    root: Path | None = None,
    *,
    grace_s: float = 900.0,
    max_rows_per_file: int = 1_000_000,
    row_group_rows: int = 65_536,
    now: datetime | None = None,
) -> CompactionReport:
    """Compact the closed partitions of the lake at ``root`` (default ``logs_dir()``).

    Opens the lake's :class:`LogWriter` (replaying any spool first) for the duration, so
    it raises :class:`~workbench.logstore.WriterLockedError` while a running gateway's
    LogSink owns the lake; that LogSink compacts in the background by itself.
    """
    with LogWriter(root) as writer:
        return compact_closed(
            writer,
            grace_s=grace_s,
            max_rows_per_file=max_rows_per_file,
            row_group_rows=row_group_rows,
            now=now,
        )
