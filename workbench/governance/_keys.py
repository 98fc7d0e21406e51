"""Governed key management: the functions the CLI (``workbench keys``) and the admin API
(``/admin/v1/keys``) both call.

Each takes the acting :class:`~workbench.governance.Principal`, checks ``keys:manage`` in
the key's workspace, works on the given :class:`~workbench.keys.KeyStore` (default: the
one in ``$WORKBENCH_HOME``) and writes an audit entry after the change succeeds. Records
never hold a secret: the full key exists only in :func:`create_key`'s return value.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from workbench.governance import audit
from workbench.governance._store import opened
from workbench.governance.permissions import (
    MANAGE_KEYS,
    Principal,
    require,
    require_workspace,
)
from workbench.keys.store import UNCHANGED

if TYPE_CHECKING:
    from workbench.keys import KeyRecord, KeyStore


def _audited(record: KeyRecord) -> dict[str, Any]:
    """What the audit log keeps of a key (no secret exists in a record)."""
    out = record.to_dict()
    out.pop("metadata", None)
    return out


def create_key(
    principal: Principal,
    workspace: str,
    name: str | None = None,
    *,
    role: str = "app",
    allowed_models: Iterable[str] = (),
    grants: Iterable[str] = (),
    expires_at: datetime | None = None,
    metadata: dict[str, Any] | None = None,
    member_id: str | None = None,
    store: KeyStore | None = None,
    source: str | None = None,
) -> tuple[KeyRecord, str]:
    """Create a key; return its record and the full key (shown once, stored nowhere).

    ``member_id`` (a member id or email): the person the key belongs to; its role and
    grants must stay within their membership in ``workspace`` (else 400
    ``role_exceeds_membership``, ``not_a_member`` or ``member_disabled``).
    Audited as ``key.create`` (and ``workspace.create`` when the workspace was new)."""
    require(principal, MANAGE_KEYS, workspace)
    with opened(store) as ks:
        if member_id is not None:
            from workbench.governance._memberdb import fetch

            member_id = fetch(ks, member_id).member_id
        known = bool(ks.db.rows("SELECT 1 FROM workspaces WHERE name = ?", (workspace,)))
        record, key = ks.create(
            workspace,
            name,
            expires_at=expires_at,
            metadata=metadata,
            role=role,
            allowed_models=allowed_models,
            grants=grants,
            member_id=member_id,
        )
    if not known:
        audit.record(
            "workspace.create",
            actor=principal.actor,
            target=f"workspace:{workspace}",
            workspace=workspace,
            after={"name": workspace, "created_with_key": record.key_id},
            source=source,
        )
    audit.record(
        "key.create",
        actor=principal.actor,
        target=f"key:{record.key_id}",
        workspace=workspace,
        after=_audited(record),
        source=source,
    )
    return record, key


def list_keys(
    principal: Principal,
    workspace: str | None = None,
    *,
    include_revoked: bool = True,
    store: KeyStore | None = None,
) -> list[KeyRecord]:
    """Keys the principal may manage (one workspace's when given), oldest first."""
    require(principal, MANAGE_KEYS, workspace)
    with opened(store) as ks:
        records = ks.list(workspace, include_revoked=include_revoked)
    if principal.workspaces is None:
        return records
    return [r for r in records if r.workspace in principal.workspaces]


def get_key(principal: Principal, key_id: str, *, store: KeyStore | None = None) -> KeyRecord:
    """One key's record: the principal's own key, or any key it may manage."""
    with opened(store) as ks:
        if key_id == principal.key_id:
            return ks.get(key_id)
        require(principal, MANAGE_KEYS)
        record = ks.get(key_id)
    require_workspace(principal, record.workspace)
    return record


def revoke_key(
    principal: Principal, key_id: str, *, store: KeyStore | None = None, source: str | None = None
) -> tuple[KeyRecord, bool]:
    """Revoke a key (idempotent); return its record and whether this call revoked it.

    Audited as ``key.revoke`` when it did."""
    require(principal, MANAGE_KEYS)
    with opened(store) as ks:
        before = ks.get(key_id)
        require_workspace(principal, before.workspace)
        after = ks.revoke(key_id)
    changed = not before.revoked
    if changed:
        audit.record(
            "key.revoke",
            actor=principal.actor,
            target=f"key:{key_id}",
            workspace=after.workspace,
            before=_audited(before),
            after=_audited(after),
            source=source,
        )
    return after, changed


def update_key(
    principal: Principal,
    key_id: str,
    *,
    role: str | None = None,
    allowed_models: Iterable[str] | None = None,
    grants: Iterable[str] | None = None,
    expires_at: datetime | None | object = UNCHANGED,
    name: str | None | object = UNCHANGED,
    member_id: str | None | object = UNCHANGED,
    store: KeyStore | None = None,
    source: str | None = None,
) -> KeyRecord:
    """Change a key's role, allowed models, grants, expiry, name or member (an id or an
    email; None detaches the key) (see :meth:`KeyStore.update`); audited as
    ``key.update`` with the before and after."""
    require(principal, MANAGE_KEYS)
    with opened(store) as ks:
        before = ks.get(key_id)
        require_workspace(principal, before.workspace)
        if isinstance(member_id, str):  # an id or an email, like create_key's
            from workbench.governance._memberdb import fetch

            member_id = fetch(ks, member_id).member_id
        after = ks.update(
            key_id,
            role=role,
            allowed_models=allowed_models,
            grants=grants,
            expires_at=expires_at,
            name=name,
            member_id=member_id,
        )
    audit.record(
        "key.update",
        actor=principal.actor,
        target=f"key:{key_id}",
        workspace=after.workspace,
        before=_audited(before),
        after=_audited(after),
        source=source,
    )
    return after


__all__ = ["create_key", "get_key", "list_keys", "revoke_key", "update_key"]
