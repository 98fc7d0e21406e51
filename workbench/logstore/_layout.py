"""Changing a partition's files without a reader ever seeing a row twice or missing one.

Readers glob ``requests/**/*.parquet``. Compaction replaces a partition's files with a
merged one, and no pair of file operations is atomic for a glob, so it swaps whole
partition directories instead:

- **exchange** (Linux ``renameat2(RENAME_EXCHANGE)``: ext4, xfs, btrfs, tmpfs, ...): the
  new content is built in a staging directory under ``root/_compact/`` (outside the
  glob) and atomically exchanged with the partition directory. Any reader's listing of
  the partition is either all old files or all new ones; a reader that listed the old
  files and opens one after the swap gets a file-not-found error and re-runs (the
  readers in :mod:`workbench.logstore.reader` do). The old directory, now at the staging
  path, is deleted. A crash leaves at most a staging directory, which is deleted on the
  next open: before the exchange it held a copy, after it the superseded files.
- **journal** (filesystems without the exchange, e.g. NFS): the merged files are written
  as hidden temp files in the partition, a journal naming them and the files they
  supersede is written atomically (the commit point), then the temp files are renamed
  in and the superseded ones deleted. A crash after the commit is rolled forward on the
  next open; before it, the temp files are simply removed. Here a raw glob could see
  the swap half done, so the swap runs inside a *layout epoch* (a seqlock): the epoch is
  odd while files move, and the library's readers re-run a query that overlapped a
  change of epoch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import json
import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from ._fs import atomic_write_bytes, fsync_dir

log = logging.getLogger(__name__)

EPOCH_FILE = "_meta/layout_epoch"
JOURNAL_FILE = "_meta/compaction.json"
STAGING_DIR = "_compact"

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
_NO_EXCHANGE = {errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV}


def _load_renameat2() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
        return libc.renameat2
    except (OSError, AttributeError):  # not glibc/Linux
        return None


_renameat2 = _load_renameat2()


def exchange(a: Path, b: Path) -> bool:
    """Atomically swap the paths ``a`` and ``b``; ``False`` when the platform can't."""
    if _renameat2 is None:
        return False
    rc = _renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE)
    if rc == 0:
        return True
    err = ctypes.get_errno()
    if err in _NO_EXCHANGE:
        return False
    raise OSError(err, os.strerror(err), str(a))


def read_epoch(root: Path) -> int:
    """The lake's layout epoch (odd while a swap is under way; 0 when never changed)."""
    try:
        return int((root / EPOCH_FILE).read_bytes() or b"0")
    except (FileNotFoundError, ValueError):
        return 0


def epoch_age_s(root: Path) -> float:
    """Seconds since the epoch last changed (an odd epoch this old means a crashed swap)."""
    try:
        return max(0.0, time.time() - (root / EPOCH_FILE).stat().st_mtime)
    except FileNotFoundError:
        return 0.0


def _write_epoch(root: Path, value: int) -> None:
    atomic_write_bytes(root / EPOCH_FILE, str(value).encode())


def begin_change(root: Path) -> None:
    """Make the epoch odd: readers re-run queries that overlap the change."""
    epoch = read_epoch(root)
    _write_epoch(root, epoch + 1 if epoch % 2 == 0 else epoch + 2)


def end_change(root: Path) -> None:
    """Make the epoch even again (and different from before the change)."""
    epoch = read_epoch(root)
    _write_epoch(root, epoch + 1 if epoch % 2 else epoch + 2)


def swap(root: Path, partition: Path, staging: Path, merged: list[str], old: list[str]) -> str:
    """Make ``partition`` hold what ``staging`` holds; returns the method used.

    ``staging`` is the partition's complete new content; ``merged`` names the new files
    in it and ``old`` the partition's files they supersede (everything else in
    ``staging`` is a hard link to a file the partition keeps).
    """
    begin_change(root)
    try:
        swapped = exchange(staging, partition)
        if swapped:
            fsync_dir(partition.parent)
            fsync_dir(staging.parent)
    finally:
        end_change(root)
    if not swapped:
        temps: dict[str, str] = {}
        for name in merged:
            temp = f".{name}.tmp"
            os.replace(staging / name, partition / temp)
            temps[temp] = name
        fsync_dir(partition)
        journal = {"partition": str(partition.relative_to(root)), "merged": temps, "old": old}
        _commit(root, journal)
        _apply_journal(root, journal)
    _discard(staging)  # after an exchange: the superseded files
    return "exchange" if swapped else "journal"


def _commit(root: Path, journal: dict[str, Any]) -> None:
    """Write the journal: from here on the swap is rolled forward, never back."""
    atomic_write_bytes(root / JOURNAL_FILE, json.dumps(journal).encode())


def _discard(folder: Path) -> None:
    shutil.rmtree(folder, ignore_errors=True)
    fsync_dir(folder.parent)


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


def _apply_journal(root: Path, journal: dict[str, Any]) -> None:
    partition = root / journal["partition"]
    begin_change(root)
    try:
        for tmp, final in journal["merged"].items():
            if (partition / tmp).exists():
                os.replace(partition / tmp, partition / final)
        for name in journal["old"]:
            _remove(partition / name)
        fsync_dir(partition)
    finally:
        end_change(root)
    (root / JOURNAL_FILE).unlink(missing_ok=True)
    fsync_dir(root / JOURNAL_FILE.split("/")[0])


def recover(root: Path) -> None:
    """Finish or undo a compaction a crash interrupted (only the writer calls this).

    Rolls a committed journal forward and deletes staging directories. Hidden temp files
    of an uncommitted journal swap are removed by the writer's temp-file cleanup, which
    must run after this.
    """
    path = root / JOURNAL_FILE
    if path.exists():
        journal = json.loads(path.read_text())
        log.info("rolling an interrupted compaction of %s forward", journal["partition"])
        _apply_journal(root, journal)
    staging = root / STAGING_DIR
    if staging.exists():
        for leftover in staging.iterdir():
            _discard(leftover)
    if read_epoch(root) % 2:
        end_change(root)
