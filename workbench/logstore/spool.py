"""The write-ahead spool: numbered JSON-lines segments, fsynced before an append returns.

A segment is ``spool/seg-<id>.jsonl`` where ``<id>`` is ``<time_ns>-<random>`` (sortable,
unique without a persistent counter). The Parquet files a segment turns into are named
after it (``part-<id>.parquet``), which is what makes recovery idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

from ._fs import fsync_dir

log = logging.getLogger(__name__)

SEGMENT_PREFIX = "seg-"
SEGMENT_SUFFIX = ".jsonl"


def new_segment_id() -> str:
    """A fresh, time-sortable, unique segment id."""
    return f"{time.time_ns():020d}-{secrets.token_hex(4)}"


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot spool {type(value).__name__}")


def encode_records(records: list[dict[str, Any]]) -> bytes:
    """Encode records as newline-terminated JSON lines (null fields are left out)."""
    lines = [
        json.dumps(
            {k: v for k, v in rec.items() if v is not None},
            default=_default,
            separators=(",", ":"),
        )
        for rec in records
    ]
    return ("\n".join(lines) + "\n").encode()


@dataclass
class Segment:
    """One spool segment: its file and the (normalised) records it holds."""

    id: str
    path: Path
    records: list[dict[str, Any]] = field(default_factory=list)
    fh: BinaryIO | None = None

    @classmethod
    def create(cls, spool_dir: Path) -> Segment:
        """Create a new empty segment file (and make its directory entry durable)."""
        seg_id = new_segment_id()
        path = spool_dir / f"{SEGMENT_PREFIX}{seg_id}{SEGMENT_SUFFIX}"
        fh = open(path, "xb")  # closed by Segment.close
        fsync_dir(spool_dir)
        return cls(seg_id, path, [], fh)

    def write(self, records: list[dict[str, Any]]) -> None:
        """Append records durably (write + fsync); on failure undo the partial write."""
        assert self.fh is not None, "segment is sealed"
        data = encode_records(records)
        start = self.fh.tell()
        try:
            self.fh.write(data)
            self.fh.flush()
            os.fsync(self.fh.fileno())
        except BaseException:
            try:
                self.fh.truncate(start)
                self.fh.seek(start)
            except OSError:  # cannot undo: stop writing to this segment at all
                self.close()
            raise
        self.records.extend(records)

    def close(self) -> None:
        """Close the file handle (the file stays until it is retired)."""
        if self.fh is not None:
            self.fh.close()
            self.fh = None


def list_segments(spool_dir: Path) -> list[Path]:
    """Segment files in replay order (oldest first)."""
    return sorted(spool_dir.glob(f"{SEGMENT_PREFIX}*{SEGMENT_SUFFIX}"))


def segment_id(path: Path) -> str:
    """The id embedded in a segment file name."""
    return path.name[len(SEGMENT_PREFIX) : -len(SEGMENT_SUFFIX)]


def read_segment(path: Path) -> list[dict[str, Any]]:
    """Read a segment's records.

    A final line without its newline is a torn write from a crash during an append that
    was never acknowledged; it is dropped. Any other undecodable line is skipped with a
    warning and the segment is copied to ``spool/corrupt/`` for inspection.
    """
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    tail = lines.pop()  # b"" when the file ends with a newline
    if tail:
        log.warning("%s: dropping a torn final line (%d bytes)", path, len(tail))
    records: list[dict[str, Any]] = []
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            bad += 1
            continue
        if isinstance(rec, dict):
            records.append(rec)
        else:
            bad += 1
    if bad:
        quarantine = path.parent / "corrupt"
        quarantine.mkdir(exist_ok=True)
        shutil.copy2(path, quarantine / path.name)
        log.warning("%s: skipped %d corrupt line(s); copy kept in %s", path, bad, quarantine)
    return records
