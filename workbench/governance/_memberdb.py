"""Members and memberships in the key store's SQLite file (key-store schema 3): records and
statements. Governed, audited functions are :mod:`workbench.governance.members`.

Every write bumps the key store's generation in its own transaction (like a revoke), so
every gateway's verification cache re-checks the member's keys within its
``recheck_interval``.
"""

from __future__ import annotations

import json
import re
import secrets
import sqlite3
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError
from workbench.governance._store import conflict
from workbench.governance.permissions import validate_grants, validate_role
from workbench.keys.records import iso, validate_workspace

if TYPE_CHECKING:
    from workbench.keys import KeyStore

EMAIL_MAX = 254
NAME_MAX = 200
MEMBER_PREFIX = "mem_"
_ID_ALPHABET = string.ascii_lowercase + string.digits
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_MEMBER_COLS = "member_id, email, display_name, created_at, updated_at, disabled_at"
_SHIP_COLS = "workspace, role, grants, created_at, updated_at"


@dataclass(frozen=True)
class Membership:
    """A member's role (plus optional grants) in one workspace."""

    workspace: str
    role: str
    grants: tuple[str, ...] = ()
    created_at: str = ""
    updated_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "workspace": self.workspace,
            "role": self.role,
            "grants": list(self.grants),
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


@dataclass(frozen=True)
class Member:
    """A person of the organisation, with their memberships (by workspace)."""

    member_id: str
    email: str
    display_name: str | None
    created_at: str
    updated_at: str | None = None
    disabled_at: str | None = None
    memberships: tuple[Membership, ...] = field(default_factory=tuple)

    @property
    def disabled(self) -> bool:
        """Whether the member is disabled (every key of theirs is refused)."""
        return self.disabled_at is not None

    def role_in(self, workspace: str) -> str | None:
        """The member's role in ``workspace``, or None."""
        return next((m.role for m in self.memberships if m.workspace == workspace), None)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``status``: ``active`` or ``disabled``)."""
        return {
            "member_id": self.member_id,
            "email": self.email,
            "display_name": self.display_name,
            "status": "disabled" if self.disabled else "active",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "disabled_at": self.disabled_at,
            "memberships": [m.to_dict() for m in self.memberships],
        }


def now() -> str:
    """The current time, ISO 8601 UTC."""
    return iso(datetime.now(UTC)) or ""


def clean_email(email: str) -> str:
    """``email`` stripped, if it looks like an address; else ``ValueError``."""
    if not isinstance(email, str):
        raise ValueError("email must be a string")
    email = email.strip()
    if len(email) > EMAIL_MAX or not _EMAIL_RE.fullmatch(email):
        raise ValueError(f"invalid email address {email[:EMAIL_MAX]!r}")
    return email


def clean_name(name: str | None) -> str | None:
    """A display name stripped (None when empty); ``ValueError`` when too long."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise ValueError("display_name must be a string")
    name = name.strip() or None
    if name is not None and len(name) > NAME_MAX:
        raise ValueError(f"display_name is longer than {NAME_MAX} characters")
    return name


def _bump(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE keystore_meta SET v = v + 1 WHERE k = 'generation'")


def fetch(store: KeyStore, ref: str) -> Member:
    """The member with id ``ref`` (or, when ``ref`` has an ``@``, that email); 404 else."""
    if "@" in ref:
        where, param = "email_key = ?", ref.strip().casefold()
    else:
        where, param = "member_id = ?", ref.strip()
    rows = store.db.rows(f"SELECT {_MEMBER_COLS} FROM members WHERE {where}", (param,))
    if not rows:
        raise NotFoundError(f"unknown member {ref[:EMAIL_MAX]!r}", code="member_not_found")
    return _with_memberships(store, rows[0])


def _with_memberships(store: KeyStore, row: tuple[Any, ...]) -> Member:
    ships = store.db.rows(
        f"SELECT {_SHIP_COLS} FROM memberships WHERE member_id = ? ORDER BY workspace", (row[0],)
    )
    found = tuple(Membership(w, r, tuple(json.loads(g or "[]")), c, u) for w, r, g, c, u in ships)
    member_id, email, display_name, created_at, updated_at, disabled_at = row
    return Member(member_id, email, display_name, created_at, updated_at, disabled_at, found)


def select(store: KeyStore, workspace: str | None, include_disabled: bool) -> list[Member]:
    """Members (only ``workspace``'s when given), by email."""
    sql, params = f"SELECT {_MEMBER_COLS} FROM members", []
    where = []
    if workspace is not None:
        where.append("member_id IN (SELECT member_id FROM memberships WHERE workspace = ?)")
        params.append(validate_workspace(workspace))
    if not include_disabled:
        where.append("disabled_at IS NULL")
    if where:
        sql += " WHERE " + " AND ".join(where)
    rows = store.db.rows(sql + " ORDER BY email_key", params)
    return [_with_memberships(store, row) for row in rows]


def insert(store: KeyStore, email: str, display_name: str | None) -> str:
    """Insert a member; return its id (409 ``member_exists`` for a known email)."""
    email, display_name = clean_email(email), clean_name(display_name)
    member_id = MEMBER_PREFIX + "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))
    with store.db.write() as conn:
        try:
            conn.execute(
                "INSERT INTO members (member_id, email, email_key, display_name, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (member_id, email, email.casefold(), display_name, now()),
            )
        except sqlite3.IntegrityError as exc:
            raise conflict(f"a member with email {email!r} exists", "member_exists") from exc
    return member_id


def update(store: KeyStore, member_id: str, sets: dict[str, Any]) -> None:
    """Apply column changes (``email``, ``display_name``, ``disabled_at``) to one member."""
    if "email" in sets:
        sets["email"] = clean_email(sets["email"])
        sets["email_key"] = sets["email"].casefold()
    if "display_name" in sets:
        sets["display_name"] = clean_name(sets["display_name"])
    sets["updated_at"] = now()
    assignments = ", ".join(f"{column} = ?" for column in sets)
    with store.db.write() as conn:
        try:
            conn.execute(
                f"UPDATE members SET {assignments} WHERE member_id = ?", [*sets.values(), member_id]
            )
        except sqlite3.IntegrityError as exc:
            taken = f"a member with email {sets['email']!r} exists"
            raise conflict(taken, "member_exists") from exc
        _bump(conn)
    store.verifier.cache.invalidate()


def upsert_membership(
    store: KeyStore, member_id: str, workspace: str, role: str, grants: tuple[str, ...]
) -> None:
    """Add the membership or change its role and grants (the workspace must exist)."""
    validate_workspace(workspace)
    validate_role(role)
    granted = json.dumps(validate_grants(grants))
    with store.db.write() as conn:
        if not conn.execute("SELECT 1 FROM workspaces WHERE name = ?", (workspace,)).fetchone():
            raise NotFoundError(f"unknown workspace {workspace!r}", code="workspace_not_found")
        stamp = now()
        conn.execute(
            "INSERT INTO memberships (member_id, workspace, role, grants, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (member_id, workspace) DO UPDATE SET "
            "role = excluded.role, grants = excluded.grants, updated_at = ?",
            (member_id, workspace, role, granted, stamp, stamp),
        )
        _bump(conn)
    store.verifier.cache.invalidate()


def delete_membership(store: KeyStore, member_id: str, workspace: str) -> None:
    """Remove the membership (the member's keys in ``workspace`` are refused from then)."""
    with store.db.write() as conn:
        conn.execute(
            "DELETE FROM memberships WHERE member_id = ? AND workspace = ?", (member_id, workspace)
        )
        _bump(conn)
    store.verifier.cache.invalidate()


__all__ = ["Member", "Membership"]
