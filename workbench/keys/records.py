"""Key records and the key format: ``wb-<key_id>-<secret>``, what the store knows of a key.

``key_id`` is 12 random letters and digits (not secret: it shows up in logs and in
``workbench keys list``); ``secret`` is 32 random bytes in url-safe base64 (43 characters).
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from workbench.errors import AuthenticationError
from workbench.governance.permissions import ROLE_PERMISSIONS

KEY_PREFIX = "wb"
KEY_ID_LENGTH = 12
SECRET_BYTES = 32
KEY_ID_ALPHABET = string.ascii_letters + string.digits
NAME_MAX = 200
_KEY_RE = re.compile(r"^wb-([A-Za-z0-9]{12})-([A-Za-z0-9_-]{43,128})$")
_WORKSPACE_RE = re.compile(r"^[a-z0-9_-]{1,64}$")

#: What a key may be used for (the role table is :mod:`workbench.governance.permissions`):
#: ``app`` keys call the gateway; the others also open the dashboard. A column since
#: schema 2 (schema-1 databases kept it as ``metadata["role"]``; the migration moves it).
ROLES = tuple(ROLE_PERMISSIONS)
DEFAULT_ROLE = "app"
MODEL_NAME_MAX = 200
MODELS_MAX = 256


def validate_role(role: str) -> str:
    """Return ``role`` if it is one of :data:`ROLES`, else raise ``ValueError``."""
    if role not in ROLES:
        raise ValueError(f"invalid key role {role!r}: choose from {', '.join(ROLES)}")
    return role


#: The columns :func:`record_from_row` reads, in order.
COLUMNS = (
    "key_id, workspace, name, created_at, revoked_at, expires_at, metadata, "
    "role, allowed_models, grants, member_id"
)
N_COLUMNS = len(COLUMNS.split(","))


def validate_models(models: object) -> tuple[str, ...]:
    """Sorted, de-duplicated model names (empty: every model), else ``ValueError``."""
    if isinstance(models, str | bytes) or not isinstance(models, Iterable):
        raise ValueError("allowed models must be a list of model names")
    out = []
    for m in models:
        if not isinstance(m, str) or not m.strip() or len(m.strip()) > MODEL_NAME_MAX:
            raise ValueError(f"invalid model name {m!r} in allowed models")
        out.append(m.strip())
    out = sorted(set(out))
    if len(out) > MODELS_MAX:
        raise ValueError(f"a key may list at most {MODELS_MAX} allowed models")
    return tuple(out)


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
    role: str = DEFAULT_ROLE
    #: Models the key may call (empty: every model the gateway serves).
    allowed_models: tuple[str, ...] = ()
    #: Permissions on top of the role (only from ``governance.permissions.GRANTABLE``).
    grants: tuple[str, ...] = ()
    #: The member (person) the key belongs to (schema 3); None: a service/app key.
    member_id: str | None = None

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
            "role": self.role,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
            "expires_at": iso(self.expires_at),
            "status": self.status(),
            "allowed_models": list(self.allowed_models),
            "grants": list(self.grants),
            "member_id": self.member_id,
            "metadata": self.metadata,
        }


def parse_key(presented: str) -> tuple[str, str]:
    """``(key_id, secret)`` of a well-formed key; ``AuthenticationError`` otherwise."""
    match = _KEY_RE.fullmatch(presented)
    if match is None:
        raise AuthenticationError(
            "malformed API key: expected 'wb-<key id>-<secret>'", code="invalid_api_key"
        )
    return match.group(1), match.group(2)


def missing_key() -> AuthenticationError:
    """No key was presented."""
    return AuthenticationError(
        "missing API key: send it as 'Authorization: Bearer wb-...'", code="missing_api_key"
    )


def invalid_key(key_id: str) -> AuthenticationError:
    """The one answer for an unknown key id, a wrong secret and a throttled key id.

    The same words for all three, so that the answer never tells whether ``key_id`` exists.
    """
    return AuthenticationError(
        f"invalid API key: unknown key id {key_id!r} or wrong secret", code="invalid_api_key"
    )


def revoked_key(record: KeyRecord) -> AuthenticationError:
    """The key (presented with its right secret) was revoked."""
    return AuthenticationError(
        f"API key {record.key_id!r} was revoked at {iso(record.revoked_at)}",
        code="revoked_api_key",
    )


def expired_key(record: KeyRecord) -> AuthenticationError:
    """The key (presented with its right secret) has expired."""
    return AuthenticationError(
        f"API key {record.key_id!r} expired at {iso(record.expires_at)}",
        code="expired_api_key",
    )


def iso(value: datetime | None) -> str | None:
    """ISO 8601 text of a timestamp, or None."""
    return value.isoformat() if value is not None else None


def _parse_ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def record_from_row(row: tuple[Any, ...]) -> KeyRecord:
    """A record from the :data:`COLUMNS` of one ``api_keys`` row."""
    key_id, workspace, name, created_at, revoked_at, expires_at, metadata = row[:7]
    role, models, grants = row[7:10]
    member_id = row[10] if len(row) > 10 else None
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
        role=role if role in ROLES else DEFAULT_ROLE,
        allowed_models=tuple(json.loads(models or "[]")),
        grants=tuple(json.loads(grants or "[]")),
        member_id=member_id,
    )
