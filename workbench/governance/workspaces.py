"""Workspaces: the organisation's units of isolation (keys, logs, cache, budgets).

The registry lives in the key store's SQLite file (table ``workspaces``, key-store schema
2), so a key and its workspace are written in one transaction. Every key belongs to
exactly one workspace; people join workspaces as members with a role
(:mod:`workbench.governance.members`); creating a key in a workspace that is not
registered yet registers it. A workspace holds a display name and a ``settings`` JSON
object (other governance features keep per-workspace settings there).

Reads are scoped: a principal sees only the workspaces it may act in (all for admins);
asking for another one is 403, so a key never learns whether a workspace exists.
Changes need ``workspaces:manage`` (admins only) and are written to the audit log.
Deleting a workspace is refused (409) while it has unrevoked keys.

::

    from workbench.governance import cli_principal, workspaces
    me = cli_principal()
    workspaces.create_workspace(me, "team-a", display_name="Team A")
    [w.name for w in workspaces.list_workspaces(me)]
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError
from workbench.governance import audit
from workbench.governance._store import conflict, opened
from workbench.governance.permissions import (
    MANAGE_WORKSPACES,
    Principal,
    require,
    require_workspace,
)
from workbench.keys.records import iso, validate_workspace

if TYPE_CHECKING:
    from workbench.keys import KeyStore

DISPLAY_NAME_MAX = 200
SETTINGS_MAX_BYTES = 64 * 1024
_UNSET: Any = object()

_SELECT = (
    "SELECT w.name, w.display_name, w.created_at, w.updated_at, w.settings, "
    "(SELECT COUNT(*) FROM api_keys k WHERE k.workspace = w.name AND k.revoked_at IS NULL), "
    "(SELECT COUNT(*) FROM api_keys k WHERE k.workspace = w.name) FROM workspaces w"
)


@dataclass(frozen=True)
class Workspace:
    """One workspace and how many keys it has (``active_keys`` are unrevoked)."""

    name: str
    display_name: str | None
    created_at: str
    updated_at: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    active_keys: int = 0
    total_keys: int = 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "name": self.name,
            "display_name": self.display_name,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "settings": self.settings,
            "active_keys": self.active_keys,
            "total_keys": self.total_keys,
        }


def _row(row: tuple[Any, ...]) -> Workspace:
    name, display, created, updated, settings, active, total = row
    return Workspace(name, display, created, updated, json.loads(settings or "{}"), active, total)


def _clean_display(display_name: str | None) -> str | None:
    if display_name is None:
        return None
    if not isinstance(display_name, str):
        raise ValueError("display_name must be a string")
    display_name = display_name.strip() or None
    if display_name is not None and len(display_name) > DISPLAY_NAME_MAX:
        raise ValueError(f"display_name is longer than {DISPLAY_NAME_MAX} characters")
    return display_name


def _settings_json(settings: Any) -> str:
    if not isinstance(settings, dict):
        raise ValueError("settings must be a JSON object")
    try:
        text = json.dumps(settings, sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"settings are not JSON-serialisable: {exc}") from exc
    if len(text) > SETTINGS_MAX_BYTES:
        raise ValueError(f"settings exceed {SETTINGS_MAX_BYTES} bytes")
    return text


def _fetch(store: KeyStore, name: str) -> Workspace | None:
    rows = store.db.rows(_SELECT + " WHERE w.name = ?", (name,))
    return _row(rows[0]) if rows else None


def _now() -> str:
    return iso(datetime.now(UTC)) or ""


def list_workspaces(principal: Principal, *, store: KeyStore | None = None) -> list[Workspace]:
    """The workspaces ``principal`` may act in, by name."""
    with opened(store) as ks:
        found = [_row(r) for r in ks.db.rows(_SELECT + " ORDER BY w.name")]
    if principal.workspaces is None:
        return found
    return [w for w in found if w.name in principal.workspaces]


def get_workspace(principal: Principal, name: str, *, store: KeyStore | None = None) -> Workspace:
    """One workspace (403 when not the principal's, 404 when there is none)."""
    validate_workspace(name)
    require_workspace(principal, name)
    with opened(store) as ks:
        found = _fetch(ks, name)
    if found is None:
        raise NotFoundError(f"unknown workspace {name!r}", code="workspace_not_found")
    return found


def create_workspace(
    principal: Principal,
    name: str,
    *,
    display_name: str | None = None,
    settings: dict[str, Any] | None = None,
    store: KeyStore | None = None,
    source: str | None = None,
) -> Workspace:
    """Register a workspace (409 when it exists); audited as ``workspace.create``."""
    validate_workspace(name)
    require(principal, MANAGE_WORKSPACES, name)
    display = _clean_display(display_name) or name
    settings_json = _settings_json(settings or {})
    with opened(store) as ks:
        with ks.db.write() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO workspaces (name, display_name, created_at, settings) "
                "VALUES (?, ?, ?, ?)",
                (name, display, _now(), settings_json),
            )
            if not cur.rowcount:
                raise conflict(f"workspace {name!r} already exists", "workspace_exists")
        created = _fetch(ks, name)
    assert created is not None
    audit.record(
        "workspace.create",
        actor=principal.actor,
        target=f"workspace:{name}",
        workspace=name,
        after=created.to_dict(),
        source=source,
    )
    return created


def update_workspace(
    principal: Principal,
    name: str,
    *,
    display_name: str | None = _UNSET,
    settings: dict[str, Any] | None = _UNSET,
    store: KeyStore | None = None,
    source: str | None = None,
) -> Workspace:
    """Change a workspace's display name and/or replace its settings; audited as
    ``workspace.update`` with the before and after."""
    validate_workspace(name)
    require(principal, MANAGE_WORKSPACES, name)
    sets: dict[str, Any] = {}
    if display_name is not _UNSET:
        sets["display_name"] = _clean_display(display_name) or name
    if settings is not _UNSET:
        sets["settings"] = _settings_json(settings or {})
    with opened(store) as ks:
        before = _fetch(ks, name)
        if before is None:
            raise NotFoundError(f"unknown workspace {name!r}", code="workspace_not_found")
        if not sets:
            return before
        sets["updated_at"] = _now()
        assignments = ", ".join(f"{column} = ?" for column in sets)
        with ks.db.write() as conn:
            conn.execute(
                f"UPDATE workspaces SET {assignments} WHERE name = ?", [*sets.values(), name]
            )
        after = _fetch(ks, name)
    assert after is not None
    audit.record(
        "workspace.update",
        actor=principal.actor,
        target=f"workspace:{name}",
        workspace=name,
        before=before.to_dict(),
        after=after.to_dict(),
        source=source,
    )
    return after


def delete_workspace(
    principal: Principal, name: str, *, store: KeyStore | None = None, source: str | None = None
) -> Workspace:
    """Delete a workspace that has no unrevoked keys (409 otherwise); audited as
    ``workspace.delete``. Revoked keys keep their records (and their workspace name); the
    workspace's memberships go with it."""
    validate_workspace(name)
    require(principal, MANAGE_WORKSPACES, name)
    with opened(store) as ks:
        with ks.db.write() as conn:
            row = conn.execute(_SELECT + " WHERE w.name = ?", (name,)).fetchone()
            if row is None:
                raise NotFoundError(f"unknown workspace {name!r}", code="workspace_not_found")
            before = _row(row)
            if before.active_keys:
                raise conflict(
                    f"workspace {name!r} still has {before.active_keys} unrevoked key(s): "
                    "revoke them first",
                    "workspace_not_empty",
                )
            conn.execute("DELETE FROM workspaces WHERE name = ?", (name,))
            conn.execute("DELETE FROM memberships WHERE workspace = ?", (name,))
    audit.record(
        "workspace.delete",
        actor=principal.actor,
        target=f"workspace:{name}",
        workspace=name,
        before=before.to_dict(),
        source=source,
    )
    return before


__all__ = [
    "Workspace",
    "create_workspace",
    "delete_workspace",
    "get_workspace",
    "list_workspaces",
    "update_workspace",
]
