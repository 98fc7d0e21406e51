"""File helpers for the policy store: atomic writes, appends and an inter-process lock.

The lock is an advisory ``flock`` on a lock file (POSIX). Every writer of the store takes it
for its whole read-modify-write, so two CLI invocations never pick the same version number
or lose an update of ``live.json``. Readers need no lock: files are replaced atomically
(temp file in the same folder, fsync, rename).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from workbench.errors import WorkbenchError

__all__ = ["append_line", "atomic_write_text", "file_lock"]


def atomic_write_text(path: Path, text: str, *, exclusive: bool = False) -> None:
    """Replace ``path`` with ``text`` atomically (readers see the old or the new file).

    ``exclusive=True`` refuses to replace an existing file (``FileExistsError``).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        if exclusive:
            os.link(tmp, path)  # fails if path exists, never clobbers
            os.unlink(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def append_line(path: Path, line: str) -> None:
    """Append one line (a newline is added) and fsync: for append-only logs, under the lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line.rstrip("\n") + "\n")
        f.flush()
        os.fsync(f.fileno())


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def file_lock(path: Path, *, timeout: float = 30.0, poll: float = 0.01) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block.

    Works across processes and across threads (each call opens its own file description).
    Raises :class:`WorkbenchError` if the lock is not free within ``timeout`` seconds.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WorkbenchError(
                        f"timed out after {timeout:g}s waiting for the lock {path}"
                    ) from None
                time.sleep(poll)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
