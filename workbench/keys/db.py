"""The key database: SQLite in WAL mode, its schema and the statements the store runs.

WAL mode lets one process (the CLI) write while another (the gateway) reads. A revoke
bumps a ``generation`` counter in the same transaction, which verification caches use to
notice revocations made by any process. The file must sit on a local disk: SQLite's WAL
mode does not work over network file systems (NFS, EFS).
"""

from __future__ import annotations

import builtins
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from workbench.keys.records import COLUMNS, KeyRecord, record_from_row

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    workspace   TEXT NOT NULL,
    name        TEXT,
    secret_hash TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    revoked_at  TEXT,
    expires_at  TEXT,
    metadata    TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS api_keys_workspace ON api_keys (workspace);
CREATE TABLE IF NOT EXISTS keystore_meta (
    k TEXT PRIMARY KEY,
    v INTEGER NOT NULL
);
INSERT OR IGNORE INTO keystore_meta (k, v) VALUES ('generation', 0);
"""


class KeyRow(NamedTuple):
    """What verification reads for one key id, in one statement."""

    record: KeyRecord
    secret_hash: str
    generation: int


class KeyDB:
    """One SQLite connection, shared by threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        existed = self.path.exists()
        conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        if not existed:
            try:
                os.chmod(self.path, 0o600)
            except OSError:
                pass
        conn.execute("PRAGMA busy_timeout = 10000")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            conn.close()
            raise RuntimeError(
                f"{self.path}: key store schema version {version} is newer than this "
                f"workbench supports ({SCHEMA_VERSION})"
            )
        if version < SCHEMA_VERSION:
            _migrate(conn)
        return conn

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed on success."""
        with self._lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    def get(self, key_id: str) -> KeyRecord | None:
        """The record of ``key_id``, or None."""
        with self._lock:
            row = self.conn.execute(
                f"SELECT {COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        return None if row is None else record_from_row(row)

    def select(self, sql: str, params: builtins.list[Any]) -> builtins.list[KeyRecord]:
        """Records of a ``SELECT {COLUMNS} ...`` statement."""
        with self._lock:
            rows = self.conn.execute(sql, params).fetchall()
        return [record_from_row(row) for row in rows]

    def lookup(self, key_id: str) -> KeyRow | None:
        """The record, stored hash and current generation for ``key_id``, or None."""
        with self._lock:
            row = self.conn.execute(
                f"SELECT {COLUMNS}, secret_hash, "
                "(SELECT v FROM keystore_meta WHERE k = 'generation') "
                "FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            return None
        return KeyRow(record_from_row(row[:7]), str(row[7]), int(row[8] or 0))

    def generation(self) -> int:
        """The revocation generation (bumped by every revoke, by any process)."""
        with self._lock:
            row = self.conn.execute("SELECT v FROM keystore_meta WHERE k = 'generation'").fetchone()
        return int(row[0]) if row else 0


def _migrate(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        conn.close()
        raise
