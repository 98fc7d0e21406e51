"""``KeyStore``: create, list, revoke and verify API keys (the package's one entry point).

Keys are ``wb-<key_id>-<secret>`` (:mod:`workbench.keys.records`); only a salted PBKDF2
hash of the secret is stored (:mod:`workbench.keys.hashing`), in SQLite
(:mod:`workbench.keys.db`); the full key is shown once, when it is created.

``verify`` (blocking) and ``averify`` (for an event loop) share one cache and one set of
limits (:mod:`workbench.keys.verifier`): repeat calls with the same key are answered from
memory; a revoke, a key update or a member change (disable, membership change or
removal) made by any process takes effect within about ``recheck_interval`` seconds
(default 1 s); expiry is checked against the clock on every call; a guessed key
id costs a bounded number of hashes per window, and an unknown one none.
"""

from __future__ import annotations

import builtins
import json
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from workbench.errors import InvalidRequestError, NotFoundError
from workbench.governance.permissions import validate_grants
from workbench.keys._membership import check_mint
from workbench.keys.db import KeyDB
from workbench.keys.hashing import hash_secret
from workbench.keys.records import (
    COLUMNS,
    DEFAULT_ROLE,
    KEY_ID_ALPHABET,
    KEY_ID_LENGTH,
    KEY_PREFIX,
    NAME_MAX,
    SECRET_BYTES,
    KeyRecord,
    iso,
    validate_models,
    validate_role,
    validate_workspace,
)
from workbench.keys.verifier import Verifier, VerifyLimits

__all__ = [
    "KEY_PREFIX",
    "UNCHANGED",
    "KeyRecord",
    "KeyStore",
    "VerifyLimits",
    "validate_workspace",
]

#: :meth:`KeyStore.update`'s "leave this field as it is".
UNCHANGED: Any = object()


class KeyStore:
    """API keys in a SQLite database (default: ``workbench.home.keys_db()``).

    Thread-safe. One instance per process is the intended use in the gateway; the CLI opens
    its own. ``recheck_interval`` bounds how long a revoke made elsewhere can go unseen by
    this instance's verification cache; ``clock`` (epoch seconds) is injectable for tests;
    ``limits`` bounds the verification work (:class:`VerifyLimits`).
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        recheck_interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        limits: VerifyLimits | None = None,
    ) -> None:
        if path is None:
            from workbench.home import keys_db

            path = keys_db()
        self.path = Path(path)
        self.recheck_interval = recheck_interval
        self._clock = clock
        self.db = KeyDB(self.path)
        self.verifier = Verifier(
            self.db, recheck_interval=recheck_interval, clock=clock, limits=limits or VerifyLimits()
        )

    def close(self) -> None:
        """Stop the verification pool and close the database connection."""
        self.verifier.close()
        self.db.close()

    def __enter__(self) -> KeyStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ management

    def create(
        self,
        workspace: str,
        name: str | None = None,
        *,
        expires_at: datetime | None = None,
        metadata: dict[str, Any] | None = None,
        role: str = DEFAULT_ROLE,
        allowed_models: Iterable[str] = (),
        grants: Iterable[str] = (),
        member_id: str | None = None,
    ) -> tuple[KeyRecord, str]:
        """Create a key; return its record and the full key, which is not stored anywhere.

        ``expires_at`` must be timezone-aware and in the future. ``metadata`` must be a
        JSON-serialisable dict. ``role`` is one of ``ROLES`` (default ``app``);
        ``allowed_models`` the models the key may call (empty: all); ``grants`` extra
        permissions from ``governance.permissions.GRANTABLE``. A workspace that is not
        registered yet is registered (see :mod:`workbench.governance.workspaces`).
        ``member_id``: the member (person) the key belongs to; the key's role and grants
        must stay within the member's membership in ``workspace`` (checked in the same
        transaction: ``NotFoundError`` / ``InvalidRequestError`` otherwise).
        Raises ``ValueError`` on bad input.
        """
        validate_workspace(workspace)
        validate_role(role)
        models = validate_models(allowed_models)
        granted = validate_grants(grants)
        name = _clean_name(name)
        now = datetime.fromtimestamp(self._clock(), UTC)
        expires_at = _clean_expiry(expires_at, now)
        meta_json = _meta_json(metadata)
        secret = secrets.token_urlsafe(SECRET_BYTES)
        stored = hash_secret(secret)
        values = (workspace, name, stored, iso(now), iso(expires_at), meta_json, role,
                  json.dumps(models), json.dumps(granted), member_id)  # fmt: skip
        with self.db.write() as conn:
            if member_id is not None:
                check_mint(conn, member_id, workspace, role, granted)
            conn.execute(
                "INSERT OR IGNORE INTO workspaces (name, display_name, created_at) "
                "VALUES (?, ?, ?)",
                (workspace, workspace, iso(now)),
            )
            key_id = _insert_key(conn, values)
        record = KeyRecord(
            key_id=key_id,
            workspace=workspace,
            name=name,
            created_at=now,
            expires_at=expires_at,
            metadata=json.loads(meta_json),
            role=role,
            allowed_models=models,
            grants=granted,
            member_id=member_id,
        )
        return record, f"{KEY_PREFIX}-{key_id}-{secret}"

    def update(
        self,
        key_id: str,
        *,
        role: str | None = None,
        allowed_models: Iterable[str] | None = None,
        grants: Iterable[str] | None = None,
        expires_at: datetime | None | object = UNCHANGED,
        name: str | None | object = UNCHANGED,
        member_id: str | None | object = UNCHANGED,
    ) -> KeyRecord:
        """Change an unrevoked key's role, allowed models, grants, expiry, name or member;
        return the new record. Arguments left out (None / ``UNCHANGED``) keep their value;
        ``expires_at=None`` removes the expiry, ``member_id=None`` detaches the key from
        its member (a member id attaches it: its role and grants must fit the member's
        membership in the key's workspace). Every ``KeyStore`` on this database sees
        the change within about ``recheck_interval`` (like a revoke). Raises
        ``NotFoundError``, ``InvalidRequestError`` (revoked key, or a member's key raised
        above the membership) or ``ValueError``."""
        sets: dict[str, Any] = {}
        if role is not None:
            sets["role"] = validate_role(role)
        if allowed_models is not None:
            sets["allowed_models"] = json.dumps(validate_models(allowed_models))
        if grants is not None:
            sets["grants"] = json.dumps(validate_grants(grants))
        now = datetime.fromtimestamp(self._clock(), UTC)
        if expires_at is not UNCHANGED:
            assert expires_at is None or isinstance(expires_at, datetime)
            sets["expires_at"] = iso(_clean_expiry(expires_at, now))
        if name is not UNCHANGED:
            assert name is None or isinstance(name, str)
            sets["name"] = _clean_name(name)
        if member_id is not UNCHANGED:
            assert member_id is None or isinstance(member_id, str)
            sets["member_id"] = member_id
        current = self.get(key_id)
        if current.revoked:
            raise InvalidRequestError(f"key {key_id!r} is revoked", code="key_revoked")
        if sets:
            assignments = ", ".join(f"{column} = ?" for column in sets)
            with self.db.write() as conn:
                member = sets.get("member_id", current.member_id)
                if member is not None and {"role", "grants", "member_id"} & sets.keys():
                    new_grants = current.grants if grants is None else validate_grants(grants)
                    check_mint(conn, member, current.workspace,
                               role or current.role, new_grants)  # fmt: skip
                conn.execute(
                    f"UPDATE api_keys SET {assignments} WHERE key_id = ? AND revoked_at IS NULL",
                    [*sets.values(), key_id],
                )
                conn.execute("UPDATE keystore_meta SET v = v + 1 WHERE k = 'generation'")
            self.verifier.cache.invalidate()
        return self.get(key_id)

    def get(self, key_id: str) -> KeyRecord:
        """The record for ``key_id``; raises ``NotFoundError`` if there is none."""
        record = self.db.get(key_id)
        if record is None:
            raise NotFoundError(f"unknown key id {key_id!r}", code="key_not_found")
        return record

    def list(
        self, workspace: str | None = None, include_revoked: bool = True
    ) -> builtins.list[KeyRecord]:
        """Keys, oldest first, optionally only one workspace's and only unrevoked ones."""
        sql = f"SELECT {COLUMNS} FROM api_keys"
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
        return self.db.select(sql + " ORDER BY created_at, key_id", params)

    def revoke(self, key_id: str) -> KeyRecord:
        """Revoke a key (idempotent) and return its record.

        Raises ``NotFoundError`` if the key does not exist. Every ``KeyStore`` on this
        database, in any process, rejects the key within about ``recheck_interval``.
        """
        now = iso(datetime.fromtimestamp(self._clock(), UTC))
        with self.db.write() as conn:
            cur = conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (now, key_id),
            )
            if cur.rowcount:
                conn.execute("UPDATE keystore_meta SET v = v + 1 WHERE k = 'generation'")
        self.verifier.cache.invalidate()
        return self.get(key_id)

    # ------------------------------------------------------------------ verification

    def verify(self, presented: str | None) -> KeyRecord:
        """Check a presented key and return its record (blocking: SQLite and PBKDF2 may run
        in the calling thread; on an event loop use :meth:`averify`).

        Raises ``AuthenticationError`` (401) when the key is missing or malformed, unknown,
        has the wrong secret (both: the same message), is revoked or has expired.
        """
        return self.verifier.verify(presented)

    async def averify(self, presented: str | None) -> KeyRecord:
        """:meth:`verify` for an event loop: cached answers need no I/O and return at once;
        database reads and hashing run in a small dedicated thread pool. Raises
        ``ServiceUnavailableError`` (503) when too many verifications are already pending."""
        return await self.verifier.averify(presented)

    def clear_cache(self) -> None:
        """Forget every cached verification result."""
        self.verifier.cache.clear()


def _insert_key(conn: sqlite3.Connection, values: tuple[Any, ...]) -> str:
    """Insert a key row under a fresh random id; return the id."""
    for _ in range(8):
        key_id = "".join(secrets.choice(KEY_ID_ALPHABET) for _ in range(KEY_ID_LENGTH))
        try:
            conn.execute(
                "INSERT INTO api_keys (key_id, workspace, name, secret_hash, created_at, "
                "expires_at, metadata, role, allowed_models, grants, member_id) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key_id, *values),
            )
            return key_id
        except sqlite3.IntegrityError:  # pragma: no cover - 62**12 ids
            continue
    raise RuntimeError("could not allocate a unique key id")  # pragma: no cover


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    name = name.strip() or None
    if name is not None and len(name) > NAME_MAX:
        raise ValueError(f"key name is longer than {NAME_MAX} characters")
    return name


def _clean_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None or expires_at.utcoffset() is None:
        raise ValueError("expires_at must be timezone-aware (e.g. UTC)")
    expires_at = expires_at.astimezone(UTC)
    if expires_at <= now:
        raise ValueError("expires_at must be in the future")
    return expires_at


def _meta_json(metadata: dict[str, Any] | None) -> str:
    if metadata is not None and not isinstance(metadata, dict):
        raise ValueError("metadata must be a dict")
    try:
        return json.dumps(dict(metadata or {}), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"metadata is not JSON-serialisable: {exc}") from exc
