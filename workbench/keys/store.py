"""API keys over SQLite: create, list, revoke and (cached) verify.

A key looks like ``wb-<key_id>-<secret>``: ``key_id`` is 12 random letters and digits (it is
not secret: it shows up in logs and in ``workbench keys list``), ``secret`` is 32 random bytes
in url-safe base64 (43 characters). The store keeps only a salted PBKDF2-HMAC-SHA256 hash of
the secret; the full key is shown once, when it is created.

The database runs in WAL mode so that one process (the CLI) can write while another (the
gateway) reads. ``verify`` is called on every request, so it caches positive results in
process, keyed by a SHA-256 digest of the presented key (never the key itself). A revoke bumps
a generation counter in the same transaction; every cached entry is tied to the generation it
was read under, and a long-lived store re-reads the counter at most once per
``recheck_interval`` seconds (default 1 s), so a revoke made by any process takes effect
within about that long. Expiry is checked against the clock on every call.

The database file must sit on a local disk: SQLite's WAL mode does not work over network
file systems (NFS, EFS).
"""

from __future__ import annotations

import base64
import builtins
import hashlib
import hmac
import json
import os
import re
import secrets
import sqlite3
import string
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple

from workbench.errors import AuthenticationError, NotFoundError

__all__ = [
    "KEY_PREFIX",
    "KeyRecord",
    "KeyStore",
    "validate_workspace",
]

KEY_PREFIX = "wb"
KEY_ID_LENGTH = 12
SECRET_BYTES = 32
_KEY_ID_ALPHABET = string.ascii_letters + string.digits
_KEY_RE = re.compile(r"^wb-([A-Za-z0-9]{12})-([A-Za-z0-9_-]{43,128})$")
_WORKSPACE_RE = re.compile(r"^[a-z0-9_-]{1,64}$")
_NAME_MAX = 200

# The secret carries 256 bits of entropy, so the KDF is there for defence in depth (a leaked
# database gives no usable keys), not to slow brute force of a guessable password: a modest
# cost keeps a first (uncached) verify at a few milliseconds. The cost is stored with each
# hash, so raising it later does not invalidate existing keys.
_HASH_SCHEME = "pbkdf2_sha256"
_PBKDF2_ITERATIONS = 10_000
_SALT_BYTES = 16

_CACHE_MAX = 10_000
_SCHEMA_VERSION = 1
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
_COLUMNS = "key_id, workspace, name, created_at, revoked_at, expires_at, metadata"


def validate_workspace(workspace: str) -> str:
    """Return ``workspace`` if it is a valid name, else raise ``ValueError``.

    Valid names are 1-64 characters of lowercase letters, digits, ``-`` and ``_``.
    """
    if not isinstance(workspace, str) or not _WORKSPACE_RE.fullmatch(workspace):
        raise ValueError(
            f"invalid workspace name {workspace!r}: use 1-64 lowercase letters, digits, '-' or '_'"
        )
    return workspace


@dataclass(frozen=True)
class KeyRecord:
    """What the store knows about one key (never any part of its secret)."""

    key_id: str
    workspace: str
    name: str | None
    created_at: datetime
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def revoked(self) -> bool:
        """Whether the key has been revoked."""
        return self.revoked_at is not None

    def is_expired(self, now: datetime | None = None) -> bool:
        """Whether the key has expired at ``now`` (default: the current time)."""
        if self.expires_at is None:
            return False
        return (now or datetime.now(UTC)) >= self.expires_at

    def status(self, now: datetime | None = None) -> str:
        """``"revoked"``, ``"expired"`` or ``"active"``."""
        if self.revoked:
            return "revoked"
        if self.is_expired(now):
            return "expired"
        return "active"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (timestamps as ISO 8601 strings, plus ``status``)."""
        return {
            "key_id": self.key_id,
            "workspace": self.workspace,
            "name": self.name,
            "created_at": _iso(self.created_at),
            "revoked_at": _iso(self.revoked_at),
            "expires_at": _iso(self.expires_at),
            "status": self.status(),
            "metadata": self.metadata,
        }


class _Entry(NamedTuple):
    record: KeyRecord
    expires_ts: float | None
    generation: int


class _Rejection(NamedTuple):
    message: str
    code: str
    until: float  # monotonic deadline


class KeyStore:
    """API keys in a SQLite database (default: ``workbench.home.keys_db()``).

    Thread-safe. One instance per process is the intended use in the gateway; the CLI opens
    its own. ``recheck_interval`` bounds how long a revoke made elsewhere can go unseen by
    this instance's verification cache; ``clock`` (epoch seconds) is injectable for tests.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        recheck_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if path is None:
            from workbench.home import keys_db

            path = keys_db()
        self.path = Path(path)
        self.recheck_interval = recheck_interval
        self._clock = clock
        self._db_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._cache: OrderedDict[bytes, _Entry] = OrderedDict()
        self._rejected: OrderedDict[bytes, _Rejection] = OrderedDict()
        self._generation = 0
        self._generation_checked = float("-inf")
        self._conn = self._connect()

    # ------------------------------------------------------------------ lifecycle

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
        if version > _SCHEMA_VERSION:
            conn.close()
            raise RuntimeError(
                f"{self.path}: key store schema version {version} is newer than this "
                f"workbench supports ({_SCHEMA_VERSION})"
            )
        if version < _SCHEMA_VERSION:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                conn.close()
                raise
        return conn

    def close(self) -> None:
        """Close the database connection."""
        with self._db_lock:
            self._conn.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._db_lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    # ------------------------------------------------------------------ management

    def create(
        self,
        workspace: str,
        name: str | None = None,
        *,
        expires_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> tuple[KeyRecord, str]:
        """Create a key; return its record and the full key, which is not stored anywhere.

        ``expires_at`` must be timezone-aware and in the future. ``metadata`` must be a
        JSON-serialisable dict. Raises ``ValueError`` on bad input.
        """
        validate_workspace(workspace)
        if name is not None:
            name = name.strip() or None
            if name is not None and len(name) > _NAME_MAX:
                raise ValueError(f"key name is longer than {_NAME_MAX} characters")
        now = datetime.fromtimestamp(self._clock(), UTC)
        if expires_at is not None:
            if expires_at.tzinfo is None or expires_at.utcoffset() is None:
                raise ValueError("expires_at must be timezone-aware (e.g. UTC)")
            expires_at = expires_at.astimezone(UTC)
            if expires_at <= now:
                raise ValueError("expires_at must be in the future")
        if metadata is not None and not isinstance(metadata, dict):
            raise ValueError("metadata must be a dict")
        meta = dict(metadata or {})
        try:
            meta_json = json.dumps(meta, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"metadata is not JSON-serialisable: {exc}") from exc

        secret = secrets.token_urlsafe(SECRET_BYTES)
        stored = _hash_secret(secret)
        with self._write() as conn:
            for _ in range(8):
                key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
                try:
                    conn.execute(
                        "INSERT INTO api_keys (key_id, workspace, name, secret_hash, "
                        "created_at, expires_at, metadata) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (key_id, workspace, name, stored, _iso(now), _iso(expires_at), meta_json),
                    )
                    break
                except sqlite3.IntegrityError:  # pragma: no cover - 62**12 ids
                    continue
            else:  # pragma: no cover
                raise RuntimeError("could not allocate a unique key id")
        record = KeyRecord(
            key_id=key_id,
            workspace=workspace,
            name=name,
            created_at=now,
            expires_at=expires_at,
            metadata=json.loads(meta_json),
        )
        return record, f"{KEY_PREFIX}-{key_id}-{secret}"

    def get(self, key_id: str) -> KeyRecord:
        """The record for ``key_id``; raises ``NotFoundError`` if there is none."""
        with self._db_lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"unknown key id {key_id!r}", code="key_not_found")
        return _record(row)

    def list(
        self, workspace: str | None = None, include_revoked: bool = True
    ) -> builtins.list[KeyRecord]:
        """Keys, oldest first, optionally only one workspace's and only unrevoked ones."""
        sql = f"SELECT {_COLUMNS} FROM api_keys"
        where: builtins.list[str] = []
        params: builtins.list[Any] = []
        if workspace is not None:
            validate_workspace(workspace)
            where.append("workspace = ?")
            params.append(workspace)
        if not include_revoked:
            where.append("revoked_at IS NULL")
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY created_at, key_id"
        with self._db_lock:
            rows = self._conn.execute(sql, params).fetchall()
        return [_record(row) for row in rows]

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key (idempotent) and return its record.

        Raises ``NotFoundError`` if the key does not exist. Every ``KeyStore`` on this
        database, in any process, rejects the key within about ``recheck_interval``.
        """
        now = _iso(datetime.fromtimestamp(self._clock(), UTC))
        with self._write() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (now, key_id),
            )
            if cur.rowcount:
                conn.execute("UPDATE keystore_meta SET v = v + 1 WHERE k = 'generation'")
            row = conn.execute(
                f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", (key_id,)
            ).fetchone()
        if row is None:
            raise NotFoundError(f"unknown key id {key_id!r}", code="key_not_found")
        with self._cache_lock:
            self._cache.clear()
            self._generation_checked = float("-inf")
        return _record(row)

    # ------------------------------------------------------------------ verification

    def verify(self, presented: str | None) -> KeyRecord:
        """Check a presented key and return its record.

        Raises ``AuthenticationError`` when the key is missing or malformed, unknown, has the
        wrong secret, is revoked or has expired. Repeat calls with the same key are served
        from an in-process cache (microseconds) that honours revocations made by any process
        within ``recheck_interval`` seconds.
        """
        if presented is None or not presented.strip():
            raise AuthenticationError(
                "missing API key: send it as 'Authorization: Bearer wb-...'",
                code="missing_api_key",
            )
        presented = presented.strip()
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).digest()
        now = self._clock()
        mono = time.monotonic()

        with self._cache_lock:
            generation = self._current_generation(mono)
            entry = self._cache.get(digest)
            if entry is not None:
                if entry.generation == generation:
                    if entry.expires_ts is not None and now >= entry.expires_ts:
                        del self._cache[digest]
                        raise _expired(entry.record)
                    self._cache.move_to_end(digest)
                    return entry.record
                del self._cache[digest]
            rejection = self._rejected.get(digest)
            if rejection is not None:
                if mono < rejection.until:
                    raise AuthenticationError(rejection.message, code=rejection.code)
                del self._rejected[digest]

        try:
            record, row_generation = self._verify_uncached(presented, now)
        except AuthenticationError as exc:
            with self._cache_lock:
                self._rejected[digest] = _Rejection(
                    exc.message, exc.code or "invalid_api_key", mono + self.recheck_interval
                )
                while len(self._rejected) > _CACHE_MAX:
                    self._rejected.popitem(last=False)
            raise

        expires_ts = record.expires_at.timestamp() if record.expires_at else None
        with self._cache_lock:
            if row_generation > self._generation:
                self._generation = row_generation
            if row_generation == self._generation:
                self._cache[digest] = _Entry(record, expires_ts, row_generation)
                while len(self._cache) > _CACHE_MAX:
                    self._cache.popitem(last=False)
        return record

    def clear_cache(self) -> None:
        """Forget every cached verification result."""
        with self._cache_lock:
            self._cache.clear()
            self._rejected.clear()
            self._generation_checked = float("-inf")

    def _current_generation(self, mono: float) -> int:
        """The revocation generation, re-read at most once per ``recheck_interval``.

        Called with ``_cache_lock`` held.
        """
        if mono - self._generation_checked >= self.recheck_interval:
            with self._db_lock:
                row = self._conn.execute(
                    "SELECT v FROM keystore_meta WHERE k = 'generation'"
                ).fetchone()
            generation = int(row[0]) if row else 0
            if generation != self._generation:
                self._generation = generation
                self._cache.clear()
                self._rejected.clear()
            self._generation_checked = mono
        return self._generation

    def _verify_uncached(self, presented: str, now: float) -> tuple[KeyRecord, int]:
        match = _KEY_RE.fullmatch(presented)
        if match is None:
            raise AuthenticationError(
                "malformed API key: expected 'wb-<key id>-<secret>'", code="invalid_api_key"
            )
        key_id, secret = match.group(1), match.group(2)
        with self._db_lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS}, secret_hash, "
                "(SELECT v FROM keystore_meta WHERE k = 'generation') "
                "FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            raise AuthenticationError(
                f"unknown API key (key id {key_id!r})", code="invalid_api_key"
            )
        record = _record(row[:7])
        stored, generation = row[7], int(row[8] or 0)
        if not _check_secret(secret, stored):
            raise AuthenticationError(
                f"invalid API key: wrong secret for key id {key_id!r}", code="invalid_api_key"
            )
        if record.revoked_at is not None:
            raise AuthenticationError(
                f"API key {key_id!r} was revoked at {_iso(record.revoked_at)}",
                code="revoked_api_key",
            )
        if record.expires_at is not None and now >= record.expires_at.timestamp():
            raise _expired(record)
        return record, generation


# ---------------------------------------------------------------------- helpers


def _expired(record: KeyRecord) -> AuthenticationError:
    return AuthenticationError(
        f"API key {record.key_id!r} expired at {_iso(record.expires_at)}",
        code="expired_api_key",
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _hash_secret(secret: str, *, iterations: int = _PBKDF2_ITERATIONS) -> str:
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("ascii"), salt, iterations)
    return f"{_HASH_SCHEME}${iterations}${_b64(salt)}${_b64(digest)}"


def _check_secret(secret: str, stored: str) -> bool:
    try:
        scheme, iterations, salt, expected = stored.split("$")
    except ValueError:
        return False
    if scheme != _HASH_SCHEME:
        return False
    digest = hashlib.pbkdf2_hmac("sha256", secret.encode("ascii"), _unb64(salt), int(iterations))
    return hmac.compare_digest(digest, _unb64(expected))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _record(row: tuple[Any, ...]) -> KeyRecord:
    key_id, workspace, name, created_at, revoked_at, expires_at, metadata = row
    created = _parse_ts(created_at)
    assert created is not None
    return KeyRecord(
        key_id=key_id,
        workspace=workspace,
        name=name,
        created_at=created,
        revoked_at=_parse_ts(revoked_at),
        expires_at=_parse_ts(expires_at),
        metadata=json.loads(metadata) if metadata else {},
    )
