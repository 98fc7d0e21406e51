"""The audit log: an append-only, hash-chained record of every administrative action.

Entries live in ``$WORKBENCH_HOME/audit.sqlite`` (SQLite, WAL mode). Triggers abort any
``UPDATE`` or ``DELETE`` on the entries table, and each entry carries
``hash = sha256(canonical JSON of the entry, prev_hash included)``, so an edit, a deleted
entry, an inserted one or a reordering made behind the triggers' back (by dropping them
with raw sqlite3) breaks the chain, and :func:`verify` names the first broken ``seq``. A
``chain_head`` row updated in the same transaction as each append also catches a
truncated tail. Appends take ``BEGIN IMMEDIATE``, so writers in several processes extend
one chain.

Callers pass redacted ``before``/``after`` values (never a secret); as a second line of
defence, values under secret-looking names (``secret``, ``api_key``, ``password``,
``token``, ...) and strings shaped like a workbench key (``wb-...``) are replaced with
``"[redacted]"`` before anything is written.

::

    from workbench.governance import audit

    audit.record("key.create", actor="cli:alice", target="key:abc123", workspace="ws1",
                 after={"role": "app"}, source="cli")
    audit.verify().ok            # True
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench._sqlite import connect, immediate
from workbench._time import TimeLike, parse_time

__all__ = [
    "GENESIS_HASH",
    "AuditEntry",
    "VerifyResult",
    "audit_db",
    "entries",
    "read_entries",
    "record",
    "verify",
]

GENESIS_HASH = "0" * 64
REDACTED = "[redacted]"
_SECRET_NAMES = re.compile(
    r"^(.*[_-])?(secret|password|passwd|api[_-]?key|token|authorization|private[_-]?key)$",
    re.IGNORECASE,
)
_KEY_SHAPED = re.compile(r"^wb-[A-Za-z0-9]+-[A-Za-z0-9_\-]{8,}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    seq         INTEGER PRIMARY KEY,
    ts          TEXT NOT NULL,
    actor       TEXT NOT NULL,
    action      TEXT NOT NULL,
    target      TEXT NOT NULL,
    workspace   TEXT,
    source      TEXT,
    before_json TEXT NOT NULL,
    after_json  TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_ts ON audit_log (ts);
CREATE TABLE IF NOT EXISTS chain_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);
INSERT OR IGNORE INTO chain_head (id, seq, hash) VALUES (1, 0, '{genesis}');
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
""".replace("{genesis}", GENESIS_HASH)

_COLUMNS = (
    "seq, ts, actor, action, target, workspace, source, before_json, after_json, prev_hash, hash"
)
_init_lock = threading.Lock()
_connections: dict[Path, sqlite3.Connection] = {}
_locks: dict[Path, threading.Lock] = {}
_owner = [os.getpid()]


@dataclass(frozen=True)
class AuditEntry:
    """One audit entry, as stored (``before``/``after`` decoded from their JSON)."""

    seq: int
    ts: str
    actor: str
    action: str
    target: str
    workspace: str | None
    source: str | None
    before: Any
    after: Any
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        """The entry as a JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of :func:`verify`: ``ok``, entries checked, and the first broken seq."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The result as a JSON-ready dict."""
        return asdict(self)


def audit_db() -> Path:
    """The audit database path: ``$WORKBENCH_HOME/audit.sqlite``."""
    from workbench.home import home

    return home() / "audit.sqlite"


def _redact(value: Any, name: str = "") -> Any:
    if name and _SECRET_NAMES.match(name) and value is not None:
        return REDACTED
    if isinstance(value, dict):
        return {str(k): _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [_redact(v) for v in items]
    if isinstance(value, str) and _KEY_SHAPED.match(value):
        return REDACTED
    return value


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def _entry_hash(row: dict[str, Any]) -> str:
    body = {
        k: row[k]
        for k in (
            "seq",
            "ts",
            "actor",
            "action",
            "target",
            "workspace",
            "source",
            "before_json",
            "after_json",
            "prev_hash",
        )
    }
    return hashlib.sha256(_canonical(body).encode("utf-8")).hexdigest()


@contextmanager
def _connect(path: Path | None) -> Iterator[sqlite3.Connection]:
    """This process's connection to the audit database, held exclusively meanwhile.

    One connection per file and process is kept open (closing the last connection of a
    WAL database checkpoints it, which would cost every append several milliseconds);
    other processes get their own and serialise on SQLite's write lock.
    """
    db = Path(path) if path is not None else audit_db()
    with _init_lock:
        if _owner[0] != os.getpid():  # a forked child never shares its parent's connections
            _connections.clear()
            _locks.clear()
            _owner[0] = os.getpid()
        conn = _connections.get(db)
        if conn is None or not db.exists():
            if conn is not None:
                conn.close()
            conn = connect(db, timeout_s=30.0, synchronous="FULL")  # every entry survives
            conn.executescript(_SCHEMA)
            _connections[db] = conn
        use_lock = _locks.setdefault(db, threading.Lock())
    with use_lock:
        yield conn


def record(
    action: str,
    *,
    actor: str,
    target: str,
    workspace: str | None = None,
    before: Any = None,
    after: Any = None,
    source: str | None = None,
    path: Path | None = None,
) -> AuditEntry:
    """Append one hash-chained entry and return it.

    ``before``/``after`` must already be redacted (secret-looking fields are masked again
    here regardless). Safe across threads and processes: the append runs in one
    ``BEGIN IMMEDIATE`` transaction that reads the chain head and extends it.
    """
    row: dict[str, Any] = {
        "ts": datetime.now(UTC).isoformat(timespec="microseconds"),
        "actor": str(actor),
        "action": str(action),
        "target": str(target),
        "workspace": workspace,
        "source": source,
        "before_json": _canonical(_redact(before)),
        "after_json": _canonical(_redact(after)),
    }
    with _connect(path) as conn, immediate(conn):
        head_seq, head_hash = conn.execute(
            "SELECT seq, hash FROM chain_head WHERE id = 1"
        ).fetchone()
        row["seq"] = int(head_seq) + 1
        row["prev_hash"] = str(head_hash)
        row["hash"] = _entry_hash(row)
        conn.execute(
            f"INSERT INTO audit_log ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            [row[c.strip()] for c in _COLUMNS.split(",")],
        )
        conn.execute(
            "UPDATE chain_head SET seq = ?, hash = ? WHERE id = 1", (row["seq"], row["hash"])
        )
    return _to_entry(tuple(row[c.strip()] for c in _COLUMNS.split(",")))


def _to_entry(r: tuple[Any, ...]) -> AuditEntry:
    return AuditEntry(
        seq=int(r[0]),
        ts=r[1],
        actor=r[2],
        action=r[3],
        target=r[4],
        workspace=r[5],
        source=r[6],
        before=json.loads(r[7]),
        after=json.loads(r[8]),
        prev_hash=r[9],
        hash=r[10],
    )


def entries(
    *,
    since: TimeLike = None,
    until: TimeLike = None,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    workspace: str | None = None,
    limit: int | None = None,
    path: Path | None = None,
) -> list[AuditEntry]:
    """Entries in ``seq`` order, filtered; ``action`` ending in ``*`` matches a prefix
    (``"key.*"``); ``limit`` keeps the newest ``limit`` entries."""
    where: list[str] = []
    args: list[Any] = []
    for column, value in (("actor", actor), ("target", target), ("workspace", workspace)):
        if value is not None:
            where.append(f"{column} = ?")
            args.append(value)
    if action is not None:
        if action.endswith("*"):
            where.append("action LIKE ? ESCAPE '\\'")
            prefix = action[:-1].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            args.append(prefix + "%")
        else:
            where.append("action = ?")
            args.append(action)
    for op, when in ((">=", since), ("<", until)):
        t = parse_time(when)
        if t is not None:
            where.append(f"ts {op} ?")
            args.append(t.isoformat(timespec="microseconds"))
    sql = f"SELECT {_COLUMNS} FROM audit_log"
    if where:
        sql += " WHERE " + " AND ".join(where)
    sql += " ORDER BY seq DESC"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    with _connect(path) as conn:
        rows = conn.execute(sql, args).fetchall()
    return [_to_entry(r) for r in reversed(rows)]


def verify(path: Path | None = None) -> VerifyResult:
    """Recompute the chain; report the first ``seq`` whose entry or link does not hold."""
    names = [c.strip() for c in _COLUMNS.split(",")]
    checked = 0
    prev_hash = GENESIS_HASH
    expected_seq = 1
    with _connect(path) as conn:
        head_seq, head_hash = conn.execute(
            "SELECT seq, hash FROM chain_head WHERE id = 1"
        ).fetchone()
        for r in conn.execute(f"SELECT {_COLUMNS} FROM audit_log ORDER BY seq"):
            row = dict(zip(names, r, strict=True))
            seq = int(row["seq"])
            if seq != expected_seq:
                return VerifyResult(False, checked, expected_seq, f"entry {expected_seq} missing")
            if row["prev_hash"] != prev_hash:
                return VerifyResult(False, checked, seq, "prev_hash does not link")
            if _entry_hash(row) != row["hash"]:
                return VerifyResult(False, checked, seq, "entry hash does not match its content")
            prev_hash = row["hash"]
            expected_seq += 1
            checked += 1
    if (checked, prev_hash) != (int(head_seq), head_hash):
        return VerifyResult(
            False,
            checked,
            checked if checked == head_seq else min(checked, int(head_seq)) + 1,
            f"chain head is seq {head_seq} but the log ends at seq {checked}",
        )
    return VerifyResult(True, checked)


def read_entries(
    principal: Any, *, workspace: str | None = None, **filters: Any
) -> list[AuditEntry]:
    """:func:`entries` for ``principal`` (needs ``audit:read``; a principal limited to some
    workspaces sees only their entries). ``filters`` are :func:`entries`' arguments."""
    from workbench.governance.permissions import READ_AUDIT, require

    require(principal, READ_AUDIT, workspace)
    found = entries(workspace=workspace, **filters)
    allowed = principal.workspaces
    return found if allowed is None else [e for e in found if e.workspace in allowed]
