"""The one way the project opens its SQLite files (keys, credentials, audit, governance,
limits, cache, alerts).

Every store is a local file shared by several processes (the CLI, the gateway's ingress
replicas, the LogSink), so every connection is opened the same way: write-ahead logging
(readers never wait on a writer), a busy timeout instead of an immediate "database is
locked", autocommit (``isolation_level=None``) with explicit ``BEGIN IMMEDIATE`` write
transactions (:func:`immediate`: the write lock is taken up front, so two writers never
deadlock upgrading from a read), and optionally a file created 0600 before SQLite writes a
byte (stores holding secrets or their hashes). WAL does not work over network file systems:
these files must sit on a local disk.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal


def connect(
    path: Path,
    *,
    timeout_s: float = 10.0,
    private: bool = False,
    synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
    any_thread: bool = True,
) -> sqlite3.Connection:
    """Open ``path`` (and its folder) in WAL mode, autocommit, with a busy timeout.

    ``private``: create the file with mode 0600 first. ``synchronous="FULL"`` for a store
    whose every commit must survive a power cut (the audit log); ``NORMAL`` (WAL's usual
    setting) survives a process crash. ``any_thread``: the connection may be used from
    other threads (callers serialise access with a lock).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if private and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    conn = sqlite3.connect(
        path, timeout=timeout_s, isolation_level=None, check_same_thread=not any_thread
    )
    conn.execute(f"PRAGMA busy_timeout = {int(timeout_s * 1000)}")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {synchronous}")
    return conn


@contextmanager
def immediate(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One ``BEGIN IMMEDIATE`` transaction: committed when the block ends, rolled back
    when it raises."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def schema_version(conn: sqlite3.Connection, path: Path, supported: int, what: str) -> int:
    """The file's ``user_version``; a ``RuntimeError`` (connection closed) when it is newer
    than this workbench supports."""
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version > supported:
        conn.close()
        raise RuntimeError(
            f"{path}: {what} schema version {version} is newer than this workbench "
            f"supports ({supported})"
        )
    return version
