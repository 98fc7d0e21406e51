"""LogWriter: the single writer of the request-log lake.

Durability protocol (see ``docs`` in :class:`LogWriter`):

1. ``append`` normalises each record on its own (a value that does not fit the schema is
   nulled, or the record rejected, with the original kept in a dead-letter file, so one
   poison record never blocks a batch), de-duplicates by ``request_id``, writes the new
   records to the current spool segment and fsyncs before returning (durable before ack).
2. ``flush`` seals the current segment and, per ``(date, hour)`` partition, writes
   ``requests/date=D/hour=HH/part-<segment id>.parquet`` via a temp file, fsync and an
   atomic rename; only after all of a segment's partitions exist is the segment deleted.
3. On open, every segment left in the spool is replayed the same way, skipping the
   partitions whose ``part-<segment id>.parquet`` already exists. A crash at any point
   therefore neither loses a record (the segment survives until its Parquet is durable)
   nor duplicates one (a partition file is written at most once per segment).
"""

from __future__ import annotations

import fcntl
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from ..home import logs_dir
from . import _layout, rollups
from ._fs import ensure_dir, fsync_dir
from ._parquet import rows_to_table, write_table_atomic
from .deadletter import dead_letter_entry, dead_letter_path, write_dead_letters
from .migrations import migrate
from .normalize import salvage_record
from .schema import partition_dir, partition_of
from .spool import Segment, list_segments, read_segment, segment_id
from .tombstones import Tombstones

log = logging.getLogger(__name__)


class WriterLockedError(RuntimeError):
    """Another LogWriter (in this or another process) already owns the lake."""


def _write_parquet(
    rows: list[dict[str, Any]], dest: Path
) -> tuple[pa.Table, list[tuple[dict[str, Any], str]]]:
    """Write rows to ``dest`` atomically; return the table written and the rows Arrow
    refused (not written)."""
    table, bad = rows_to_table(rows)
    if table.num_rows:
        write_table_atomic(table, dest)
    return table, bad


def _retire_segment(path: Path) -> None:
    """Delete a spool segment whose records are all in Parquet."""
    path.unlink(missing_ok=True)
    fsync_dir(path.parent)


def _acquire_lock(path: Path) -> IO[bytes]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fh = open(path, "ab")  # held for the writer's lifetime
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as exc:
        fh.close()
        raise WriterLockedError(f"another LogWriter is writing to {path.parent.parent}") from exc
    return fh


class LogWriter:
    """The single, thread-safe writer of the request log at ``root`` (default ``logs_dir()``).

    Layout: ``root/requests/date=YYYY-MM-DD/hour=HH/part-<id>.parquet`` (and, once an
    hour is compacted, ``compact-<id>.parquet``) plus the spool in ``root/spool/`` and
    dead letters in ``root/deadletter/``. Opening takes an exclusive lock on
    ``root/_meta/writer.lock`` (a second writer raises :class:`WriterLockedError`), runs
    pending migrations, finishes an interrupted compaction, loads the ids written in the
    last ``dedupe_window_s`` seconds (by partition hour) for idempotency, and replays any
    spool left by a crash.

    ``append`` never flushes by itself: call :meth:`maybe_flush` periodically (or
    :meth:`flush`); :meth:`close` flushes.
    """

    def __init__(
        self,
        root: Path | None = None,
        *,
        flush_rows: int = 1000,
        flush_interval_s: float = 1.0,
        dedupe_window_s: float = 6 * 3600.0,
    ) -> None:
        self.root = Path(root) if root is not None else logs_dir()
        self.flush_rows = flush_rows
        self.flush_interval_s = flush_interval_s
        self.dedupe_window_s = dedupe_window_s
        self._requests = self.root / "requests"
        self._spool = self.root / "spool"
        self._lock = threading.Lock()  # state + current segment
        self._flush_lock = threading.Lock()  # one flush (or partition swap) at a time
        self.deadletter_lock = threading.Lock()  # dead-letter appends vs. their rewrite
        self._closed = False
        self._seen: dict[str, float] = {}  # request_id -> when it became known (epoch s)
        self._current: Segment | None = None
        self._sealed: list[Segment] = []
        self._counts = dict.fromkeys(
            (
                "pending",
                "accepted",
                "duplicates_dropped",
                "files_written",
                "recovered",
                "quarantined",
                "salvaged",
                "rejected",
                "erased_late",
            ),
            0,
        )
        self._last_flush = time.monotonic()
        self._lock_fh = _acquire_lock(self.root / "_meta" / "writer.lock")
        try:
            self.schema_version = migrate(self.root)
            ensure_dir(self._requests)
            ensure_dir(self._spool)
            _layout.recover(self.root)
            self.tombstones = Tombstones(self.root)
            self._cleanup_temp_files()
            rollups.repair(self.root)  # every requests file has its rollup file
            self._load_recent_ids()
            self._recover()
        except BaseException:
            self._lock_fh.close()
            raise

    # -- opening -------------------------------------------------------------------

    def _cleanup_temp_files(self) -> None:
        for tmp in self._requests.glob("**/.*.tmp"):
            tmp.unlink(missing_ok=True)

    def _load_recent_ids(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(seconds=self.dedupe_window_s)
        hours: list[tuple[datetime, Path]] = []
        for hour_dir in self._requests.glob("date=*/hour=*"):
            try:
                date = hour_dir.parent.name.split("=", 1)[1]
                hour = int(hour_dir.name.split("=", 1)[1])
                start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
            except (IndexError, ValueError):
                continue
            if start + timedelta(hours=1) >= cutoff:
                hours.append((start, hour_dir))
        for start, hour_dir in sorted(hours):
            stamp = start.timestamp()
            for path in sorted(hour_dir.glob("*.parquet")):
                try:
                    ids = pq.read_table(path, columns=["request_id"], partitioning=None)
                except Exception as exc:  # one unreadable file must not keep the log down
                    log.error("cannot read request ids from %s: %s", path, type(exc).__name__)
                    continue
                for rid in ids.column("request_id").to_pylist():
                    self._seen[rid] = stamp

    def _recover(self) -> None:
        for path in list_segments(self._spool):
            records, _ = self._admit(read_segment(path), "recovery")
            records, erased = self.tombstones.screen(records)
            self._counts["erased_late"] += erased
            self._counts["recovered"] += len(records)
            # ids already in Parquet (a partition written before the crash, possibly
            # compacted since) are not written again
            fresh = [r for r in records if r["request_id"] not in self._seen]
            self._sealed.append(Segment(segment_id(path), path, fresh))
            self._counts["pending"] += len(fresh)
            for rec in fresh:
                self._seen[rec["request_id"]] = time.time()
        if self._sealed:
            log.info(
                "replaying %d spooled record(s) from %s", self._counts["recovered"], self._spool
            )
            self.flush()

    # -- writing -------------------------------------------------------------------

    def _admit(self, records: list[Any], source: str) -> tuple[list[dict[str, Any]], int]:
        """Normalise records; dead-letter the originals of those that did not fit.

        A record with a field that does not fit its type is kept with that field null
        (``salvaged``); one without a usable id or time is only dead-lettered
        (``rejected``). Dead letters are fsynced before this returns. Returns the kept
        records and how many records were dead-lettered.
        """
        kept: list[dict[str, Any]] = []
        dead: list[dict[str, Any]] = []
        for raw in records:
            rec, problems = salvage_record(raw)
            if rec is not None:
                kept.append(rec)
            if problems:
                rid = rec["request_id"] if rec is not None else None
                if rid is not None and rid in self._seen:
                    continue  # a re-sent duplicate: dead-lettered the first time
                action = "salvaged" if rec is not None else "rejected"
                dead.append(dead_letter_entry(source, raw, problems, action=action))
                log.warning("log record %r %s: %d field problem(s)", rid, action, len(problems))
        if dead:
            with self.deadletter_lock:
                write_dead_letters(dead_letter_path(self.root, source), dead)
            with self._lock:
                self._counts["quarantined"] += len(dead)
                for entry in dead:
                    self._counts[str(entry["action"])] += 1
        return kept, len(dead)

    def _evict_old_ids(self) -> None:
        cutoff = time.time() - self.dedupe_window_s
        seen = self._seen
        while seen:
            rid = next(iter(seen))
            if seen[rid] >= cutoff:
                break
            del seen[rid]

    def append(self, records: list[dict[str, Any]]) -> int:
        """Durably spool the records not seen before; return how many were new.

        See :meth:`append_batch`, which also reports duplicates and quarantined records.
        """
        return self.append_batch(records)["accepted"]

    def append_batch(self, records: list[dict[str, Any]]) -> dict[str, int]:
        """Durably spool the new records; return ``accepted``, ``duplicates``, ``quarantined``.

        Each record is normalised on its own (:func:`~.normalize.salvage_record`): a
        record with a value that does not fit the schema never takes down the batch; its
        original goes to the dead-letter file with the reason, and it is written with the
        offending fields null, or not at all when it has no usable ``request_id`` or
        ``received_at``. Records whose ``request_id`` was already accepted (this batch,
        the spool, or Parquet written within the dedupe window) are dropped, and so are
        late copies of erased rows (:mod:`~.tombstones`, counted as ``erased_late``). The
        new records are fsynced to the spool before this returns.
        """
        if self._closed:
            raise RuntimeError("LogWriter is closed")
        normalized, quarantined = self._admit(list(records), "writer")
        normalized, erased = self.tombstones.screen(normalized)
        with self._lock:
            self._counts["erased_late"] += erased
            if self._closed:
                raise RuntimeError("LogWriter is closed")
            self._evict_old_ids()
            new: list[dict[str, Any]] = []
            batch: set[str] = set()
            for rec in normalized:
                rid = rec["request_id"]
                if rid in self._seen or rid in batch:
                    continue
                batch.add(rid)
                new.append(rec)
            duplicates = len(normalized) - len(new)
            self._counts["duplicates_dropped"] += duplicates
            if new:
                self._spool_records(new)
            return {"accepted": len(new), "duplicates": duplicates, "quarantined": quarantined}

    def _spool_records(self, new: list[dict[str, Any]]) -> None:
        """Write ``new`` to the current segment (caller holds ``_lock``)."""
        if self._current is None or self._current.fh is None:
            if self._current is not None:  # broken segment: keep its records for flush
                self._sealed.append(self._current)
            self._current = Segment.create(self._spool)
        self._current.write(new)
        now = time.time()
        for rec in new:
            self._seen[rec["request_id"]] = now
        self._counts["pending"] += len(new)
        self._counts["accepted"] += len(new)

    def flush(self) -> int:
        """Write all spooled records to Parquet partitions; return how many were written.

        The current segment is sealed (new appends go to a fresh one), each sealed
        segment becomes one file per partition, and the segment is deleted only after
        its files are durable. If this raises, the segments stay and the next flush
        (or the next open) finishes the job without duplicating anything.
        """
        with self._flush_lock:
            return self._flush_locked()

    def _flush_locked(self) -> int:
        """:meth:`flush`'s work (caller holds ``_flush_lock``)."""
        with self._lock:
            if self._current is not None:
                self._current.close()
                self._sealed.append(self._current)
                self._current = None
            segments = list(self._sealed)
        written = 0
        for seg in segments:
            files = self._write_segment(seg)
            _retire_segment(seg.path)
            with self._lock:
                self._sealed.remove(seg)
                self._counts["pending"] -= len(seg.records)
                self._counts["files_written"] += files
            written += len(seg.records)
        with self._lock:
            self._last_flush = time.monotonic()
        return written

    def _write_segment(self, seg: Segment) -> int:
        groups: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for rec in seg.records:
            groups[partition_of(rec["received_at"])].append(rec)
        files = 0
        for (date, hour), rows in sorted(groups.items()):
            dest = self._requests / partition_dir(date, hour) / f"part-{seg.id}.parquet"
            if dest.exists():  # written before a crash: never write it twice
                continue
            table, bad = _write_parquet(rows, dest)
            if bad:  # never expected: salvage_record's output always converts
                entries = [
                    dead_letter_entry("flush", r, [why], action="rejected") for r, why in bad
                ]
                with self.deadletter_lock:
                    write_dead_letters(dead_letter_path(self.root, "flush"), entries)
                with self._lock:
                    self._counts["quarantined"] += len(bad)
                    self._counts["rejected"] += len(bad)
            if dest.exists():  # its rollup, before the segment is retired
                rollups.roll_up_file(self.root, dest, table=table)
            files += len(rows) > len(bad)
        return files

    def maybe_flush(self) -> int:
        """Flush if ``flush_rows`` records are pending or ``flush_interval_s`` has passed."""
        with self._lock:
            pending = self._counts["pending"]
            elapsed = time.monotonic() - self._last_flush
        if pending >= self.flush_rows or (pending > 0 and elapsed >= self.flush_interval_s):
            return self.flush()
        return 0

    # -- coordination with compaction ----------------------------------------------

    def pending_partitions(self) -> set[tuple[str, int]]:
        """The ``(date, hour)`` partitions that spooled, unflushed records belong to."""
        with self._lock:
            segments = [*self._sealed, *([self._current] if self._current else [])]
            return {partition_of(r["received_at"]) for s in segments for r in s.records}

    @contextmanager
    def layout_lock(self) -> Iterator[None]:
        """Hold off flushes (no new Parquet file appears) while a partition is swapped.

        Raises ``RuntimeError`` if the writer is closed: only the lake's writer may
        change its layout.
        """
        with self._flush_lock:
            if self._closed:
                raise RuntimeError("LogWriter is closed")
            yield

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Flush everything accepted so far, then hold off flushes while the caller
        rewrites partitions (erasure, retention): the spool then holds no record accepted
        before this call, and no flush races the rewrite. Appends still spool meanwhile.
        """
        with self._flush_lock:
            if self._closed:
                raise RuntimeError("LogWriter is closed")
            self._flush_locked()
            yield

    # -- closing -------------------------------------------------------------------

    def close(self) -> None:
        """Flush everything and release the writer lock (idempotent)."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            with self._flush_lock:  # a partition swap in progress finishes first
                with self._lock:
                    self._closed = True
                    if self._current is not None:
                        self._current.close()
                self._lock_fh.close()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` ran (the lake is no longer this writer's)."""
        return self._closed

    def stats(self) -> dict[str, int]:
        """Counters: accepted, duplicates_dropped, pending, files_written, recovered,
        quarantined (= salvaged + rejected: records with a dead letter), erased_late
        (late copies of erased rows, dropped), known_ids."""
        with self._lock:
            return {**self._counts, "known_ids": len(self._seen)}

    def __enter__(self) -> LogWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
