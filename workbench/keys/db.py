"""The key database: SQLite in WAL mode, its schema and the statements the store runs.

WAL mode lets one process (the CLI) write while another (the gateway) reads. A revoke
bumps a ``generation`` counter in the same transaction, which verification caches use to
notice revocations made by any process. The file must sit on a local disk: SQLite's WAL
mode does not work over network file systems (NFS, EFS).

The schema is versioned (``PRAGMA user_version``) and upgraded by numbered migrations
(:data:`MIGRATIONS`), each in one transaction, so a key file written by an older
workbench keeps working: schema 2 adds the key's ``role`` (moved out of
``metadata["role"]``), ``allowed_models`` and ``grants`` columns and the ``workspaces``
table (registering every workspace that already has keys); schema 3 adds people: the
``members`` table (email unique case-insensitively, through ``email_key``, its casefolded
form), ``memberships`` (one role, plus optional grants, per member per workspace) and the
key's optional ``member_id`` (keys without one are service/app keys and work as before).
"""

from __future__ import annotations

import builtins
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

from workbench._sqlite import connect, immediate, schema_version
from workbench.errors import AuthenticationError
from workbench.keys._membership import MemberState, effective, member_state
from workbench.keys.records import COLUMNS, N_COLUMNS, KeyRecord, record_from_row

_SCHEMA_1 = """
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

_SCHEMA_2 = """
ALTER TABLE api_keys ADD COLUMN role TEXT NOT NULL DEFAULT 'app';
ALTER TABLE api_keys ADD COLUMN allowed_models TEXT NOT NULL DEFAULT '[]';
ALTER TABLE api_keys ADD COLUMN grants TEXT NOT NULL DEFAULT '[]';
UPDATE api_keys SET role = json_extract(metadata, '$.role'),
    metadata = json_remove(metadata, '$.role')
    WHERE json_valid(metadata)
    AND json_extract(metadata, '$.role') IN ('admin', 'policy-author', 'analyst', 'app');
CREATE TABLE IF NOT EXISTS workspaces (
    name         TEXT PRIMARY KEY,
    display_name TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT,
    settings     TEXT NOT NULL DEFAULT '{}'
);
INSERT OR IGNORE INTO workspaces (name, display_name, created_at)
    SELECT workspace, workspace, MIN(created_at) FROM api_keys GROUP BY workspace;
"""

_SCHEMA_3 = """
CREATE TABLE IF NOT EXISTS members (
    member_id    TEXT PRIMARY KEY,
    email        TEXT NOT NULL,
    email_key    TEXT NOT NULL UNIQUE,
    display_name TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT,
    disabled_at  TEXT
);
CREATE TABLE IF NOT EXISTS memberships (
    member_id  TEXT NOT NULL REFERENCES members (member_id),
    workspace  TEXT NOT NULL,
    role       TEXT NOT NULL,
    grants     TEXT NOT NULL DEFAULT '[]',
    created_at TEXT NOT NULL,
    updated_at TEXT,
    PRIMARY KEY (member_id, workspace)
);
CREATE INDEX IF NOT EXISTS memberships_workspace ON memberships (workspace);
ALTER TABLE api_keys ADD COLUMN member_id TEXT REFERENCES members (member_id);
CREATE INDEX IF NOT EXISTS api_keys_member ON api_keys (member_id);
"""

#: Schema version -> the statements that upgrade the previous version to it.
MIGRATIONS: dict[int, str] = {1: _SCHEMA_1, 2: _SCHEMA_2, 3: _SCHEMA_3}

#: :data:`COLUMNS` qualified with the ``api_keys`` alias ``a`` (for joins).
_A_COLUMNS = ", ".join(f"a.{c.strip()}" for c in COLUMNS.split(","))
_LOOKUP = (
    f"SELECT {_A_COLUMNS}, a.secret_hash, "
    "(SELECT v FROM keystore_meta WHERE k = 'generation'), "
    "m.member_id, m.disabled_at, ms.role, ms.grants "
    "FROM api_keys a LEFT JOIN members m ON m.member_id = a.member_id "
    "LEFT JOIN memberships ms ON ms.member_id = a.member_id AND ms.workspace = a.workspace "
    "WHERE a.key_id = ?"
)
SCHEMA_VERSION = max(MIGRATIONS)


class KeyRow(NamedTuple):
    """What verification reads for one key id, in one statement."""

    record: KeyRecord
    secret_hash: str
    generation: int
    #: The key's member and membership, read in the same statement (None: no member).
    member: MemberState | None = None


class KeyDB:
    """One SQLite connection, shared by threads under a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.conn = self._connect()

    def _connect(self) -> sqlite3.Connection:
        conn = connect(self.path, private=True)
        if schema_version(conn, self.path, SCHEMA_VERSION, "key store") < SCHEMA_VERSION:
            _migrate(conn)
        return conn

    def rows(
        self, sql: str, params: builtins.list[Any] | tuple[Any, ...] = ()
    ) -> builtins.list[Any]:
        """The raw rows of one read statement."""
        with self._lock:
            return self.conn.execute(sql, params).fetchall()

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self.conn.close()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One ``BEGIN IMMEDIATE`` transaction, committed on success."""
        with self._lock, immediate(self.conn):
            yield self.conn

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
        """The record, stored hash, current generation and (for a member's key) the
        member's state, for ``key_id``, in one statement; or None."""
        with self._lock:
            row = self.conn.execute(_LOOKUP, (key_id,)).fetchone()
        if row is None:
            return None
        n = N_COLUMNS
        record = record_from_row(row[:n])
        member = None if record.member_id is None else member_state(row[n + 2 : n + 6])
        return KeyRow(record, str(row[n]), int(row[n + 1] or 0), member)

    def effective(self, key_id: str) -> KeyRecord | None:
        """The record of ``key_id`` as verification sees it (capped by its member's
        membership), or None when there is no such key or its member denies it. For
        callers that re-check a key by id (a logged-in dashboard session)."""
        row = self.lookup(key_id)
        if row is None:
            return None
        try:
            return effective(row.record, row.member)
        except AuthenticationError:
            return None

    def generation(self) -> int:
        """The revocation generation (bumped by every revoke, by any process)."""
        with self._lock:
            row = self.conn.execute("SELECT v FROM keystore_meta WHERE k = 'generation'").fetchone()
        return int(row[0]) if row else 0


def _migrate(conn: sqlite3.Connection) -> None:
    """Apply every migration above the file's version, in one transaction (re-reading the
    version under the write lock, so two processes opening an old file migrate it once)."""
    try:
        with immediate(conn):
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            for number in sorted(MIGRATIONS):
                if number <= version:
                    continue
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        conn.close()
        raise
