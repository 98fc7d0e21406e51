"""The credential database: SQLite in WAL mode, its schema and its statements.

One file, ``$WORKBENCH_HOME/credentials.sqlite`` (mode 0600). Secrets are stored only as
Fernet tokens (:mod:`._crypto`); every mutation bumps a store-wide ``generation`` in the
same transaction, which gateways poll (one tiny read every ``recheck`` seconds, never per
request) to notice a rotation made by any process. WAL lets the CLI write while gateways
read; the file must sit on a local disk (SQLite's WAL does not work over NFS).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from workbench._sqlite import connect, immediate, schema_version

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS credentials (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    token       BLOB NOT NULL,
    fingerprint TEXT,
    created_at  TEXT NOT NULL,
    rotated_at  TEXT,
    generation  INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS bindings (
    workspace     TEXT NOT NULL,
    target        TEXT NOT NULL,
    credential_id TEXT NOT NULL REFERENCES credentials (id),
    created_at    TEXT NOT NULL,
    PRIMARY KEY (workspace, target)
);
CREATE TABLE IF NOT EXISTS store_meta (
    k TEXT PRIMARY KEY,
    v TEXT NOT NULL
);
INSERT OR IGNORE INTO store_meta (k, v) VALUES ('generation', '0');
"""
_COLS = "id, name, provider, token, fingerprint, created_at, rotated_at, generation"


class CredRow(NamedTuple):
    """One stored credential, its secret still encrypted."""

    id: str
    name: str
    provider: str
    token: bytes
    fingerprint: str | None
    created_at: str
    rotated_at: str | None
    generation: int


class BindingRow(NamedTuple):
    """A workspace's own credential for one target."""

    workspace: str
    target: str
    credential_id: str
    created_at: str


class CredentialDB:
    """One SQLite connection to the credential file, shared by threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()  # reads may run inside write()
        self.conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path, private=True)
        conn.execute("PRAGMA foreign_keys = ON")
        if schema_version(conn, self.path, SCHEMA_VERSION, "credential store") < SCHEMA_VERSION:
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        return conn

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE) that bumps the store generation."""
        with self._lock, immediate(self.conn):
            yield self.conn
            self.conn.execute(
                "UPDATE store_meta SET v = CAST(v AS INTEGER) + 1 WHERE k = 'generation'"
            )

    # ------------------------------------------------------------------ reads

    def generation(self) -> int:
        """The store-wide generation (bumped by every mutation, from any process)."""
        with self._lock:
            row = self.conn.execute("SELECT v FROM store_meta WHERE k = 'generation'").fetchone()
        return int(row[0])

    def meta(self, key: str) -> str | None:
        """A value of the store's meta table (e.g. the master-key ``canary``)."""
        with self._lock:
            row = self.conn.execute("SELECT v FROM store_meta WHERE k = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def row(self, cred_id: str) -> CredRow | None:
        """One credential, or None."""
        with self._lock:
            row = self.conn.execute(
                f"SELECT {_COLS} FROM credentials WHERE id = ?", (cred_id,)
            ).fetchone()
        return None if row is None else CredRow(*row)

    def rows(self, provider: str | None = None) -> list[CredRow]:
        """Every credential (of ``provider``), oldest first."""
        sql = f"SELECT {_COLS} FROM credentials"
        args: tuple[str, ...] = ()
        if provider is not None:
            sql, args = sql + " WHERE provider = ?", (provider,)
        with self._lock:
            return [CredRow(*r) for r in self.conn.execute(sql + " ORDER BY created_at, id", args)]

    def generations(self) -> dict[str, int]:
        """``{credential id: its generation}`` (what a resolver needs to drop stale secrets)."""
        with self._lock:
            return dict(self.conn.execute("SELECT id, generation FROM credentials").fetchall())

    def bindings(
        self, workspace: str | None = None, credential_id: str | None = None
    ) -> list[BindingRow]:
        """Workspace bindings, optionally of one workspace and/or one credential."""
        sql, args = "SELECT workspace, target, credential_id, created_at FROM bindings", []
        where = []
        if workspace is not None:
            where.append("workspace = ?")
            args.append(workspace)
        if credential_id is not None:
            where.append("credential_id = ?")
            args.append(credential_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._lock:
            rows = self.conn.execute(sql + " ORDER BY workspace, target", args).fetchall()
        return [BindingRow(*r) for r in rows]


def insert_row(conn: sqlite3.Connection, row: CredRow) -> None:
    """Insert a new credential (inside :meth:`CredentialDB.write`)."""
    conn.execute(f"INSERT INTO credentials ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", row)


def set_meta(conn: sqlite3.Connection, key: str, value: str) -> None:
    """Set a meta value (inside :meth:`CredentialDB.write`)."""
    conn.execute("INSERT OR REPLACE INTO store_meta (k, v) VALUES (?, ?)", (key, value))
