"""The store's records: :class:`Version` (one immutable published version) and
:class:`AuditEvent` (one line of the audit trail), with the id helpers they share."""

from __future__ import annotations

import getpass
import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from workbench.config._yamlsource import load_yaml_with_lines
from workbench.errors import ConfigError
from workbench.policy.loader import parse_policy
from workbench.policy.model import SLUG_PATTERN, Policy, policy_hash

__all__ = [
    "AuditEvent",
    "EventKind",
    "Version",
    "check_policy_id",
    "default_author",
    "parse_version_id",
]

_VERSION_RE = re.compile(r"^(?P<policy_id>[a-z0-9][a-z0-9_-]{0,63})@v(?P<number>[1-9][0-9]*)$")
_ID_RE = re.compile(SLUG_PATTERN)

EventKind = Literal["publish", "rollback", "unpublish"]


def default_author() -> str:
    """``$WORKBENCH_AUTHOR``, else the OS user name, else ``"unknown"``."""
    env = os.environ.get("WORKBENCH_AUTHOR", "").strip()
    if env:
        return env
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (containers without a passwd entry)
        return "unknown"


def parse_version_id(version_id: str) -> tuple[str, int]:
    """``"default@v3"`` -> ``("default", 3)``; ValueError for anything else."""
    m = _VERSION_RE.fullmatch(version_id)
    if not m:
        raise ValueError(f"invalid version id {version_id!r} (expected <policy_id>@v<N>)")
    return m["policy_id"], int(m["number"])


def check_policy_id(policy_id: str) -> str:
    """``policy_id`` if it is a valid slug; ValueError otherwise."""
    if not _ID_RE.fullmatch(policy_id):
        raise ValueError(f"invalid policy id {policy_id!r} (expected a slug like 'default')")
    return policy_id


def utc_now() -> datetime:
    """Now, in UTC, to the millisecond (what the store records)."""
    return datetime.fromisoformat(datetime.now(UTC).isoformat(timespec="milliseconds"))


@dataclass(frozen=True)
class Version:
    """One immutable published version of a policy. ``policy`` is parsed on first access."""

    version_id: str
    policy_id: str
    number: int
    hash: str
    author: str
    created_at: datetime
    message: str
    source: str | None = None
    already_live: bool = field(default=False, compare=False)
    """Set on the result of a publish that found identical content live (nothing written)."""
    path: Path | None = field(default=None, compare=False, repr=False)
    """The version's YAML file in the store."""
    _policy: Policy | None = field(default=None, compare=False, repr=False)

    @property
    def policy(self) -> Policy:
        """The parsed policy (checked against the stored hash on first access)."""
        if self._policy is None:
            if self.path is None:
                raise ValueError(f"version {self.version_id} has no policy attached")
            object.__setattr__(self, "_policy", _read_stored(self.path, self.hash))
        assert self._policy is not None
        return self._policy

    def to_dict(self) -> dict[str, Any]:
        """The metadata as stored in ``v<N>.json`` (JSON-ready)."""
        return {
            "version_id": self.version_id,
            "policy_id": self.policy_id,
            "number": self.number,
            "hash": self.hash,
            "author": self.author,
            "created_at": self.created_at.isoformat(timespec="milliseconds"),
            "message": self.message,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, meta: dict[str, Any], path: Path | None = None) -> Version:
        """Build from ``v<N>.json`` metadata; ``path`` is the version's YAML file."""
        return cls(
            version_id=meta["version_id"],
            policy_id=meta["policy_id"],
            number=int(meta["number"]),
            hash=meta["hash"],
            author=meta["author"],
            created_at=datetime.fromisoformat(meta["created_at"]),
            message=meta.get("message") or "",
            source=meta.get("source"),
            path=path,
        )


def _read_stored(path: Path, expected_hash: str) -> Policy:
    data, locate = load_yaml_with_lines(path)
    policy = parse_policy(data, path=str(path), locate=locate, check_catalogue=False)
    if policy_hash(policy) != expected_hash:
        raise ConfigError(
            "content does not match the version's hash: the stored file was modified",
            path=str(path),
        )
    return policy


@dataclass(frozen=True)
class AuditEvent:
    """One line of ``audit.jsonl``.

    ``hash`` is the content hash of ``to_version`` (of ``from_version`` for an unpublish);
    ``undo`` marks a rollback that went back one step (no ``--to``).
    """

    event: EventKind
    policy_id: str
    at: datetime
    by: str
    from_version: str | None
    to_version: str | None
    hash: str | None
    message: str
    undo: bool = False

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, as written to ``audit.jsonl``."""
        return {
            "event": self.event,
            "policy_id": self.policy_id,
            "at": self.at.isoformat(timespec="milliseconds"),
            "by": self.by,
            "from": self.from_version,
            "to": self.to_version,
            "hash": self.hash,
            "message": self.message,
            "undo": self.undo,
        }

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> AuditEvent:
        """Parse one ``audit.jsonl`` record."""
        return cls(
            event=raw["event"],
            policy_id=raw["policy_id"],
            at=datetime.fromisoformat(raw["at"]),
            by=raw.get("by") or "unknown",
            from_version=raw.get("from"),
            to_version=raw.get("to"),
            hash=raw.get("hash"),
            message=raw.get("message") or "",
            undo=bool(raw.get("undo", False)),
        )
