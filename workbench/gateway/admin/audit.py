"""``/admin/v1/audit``: read and verify the audit log over HTTP (``audit:read``).

=======  ==========================  ===============================================
method   path (under ``/admin/v1``)  answer
=======  ==========================  ===============================================
GET      ``/audit``                  ``{"object": "list", "data": [entry, ...]}``;
                                     query: since, until, actor, action, workspace,
                                     limit (default 1000)
GET      ``/audit/verify``           ``{"ok", "checked", "first_bad_seq", "reason"}``
=======  ==========================  ===============================================

A key limited to some workspaces sees only their entries.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from workbench.gateway.admin._auth import Caller
from workbench.governance import audit as log
from workbench.governance.permissions import READ_AUDIT, require

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("")
def list_entries(
    caller: Caller,
    since: str | None = None,
    until: str | None = None,
    actor: str | None = None,
    action: str | None = None,
    workspace: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
) -> dict[str, Any]:
    """Audit entries, oldest first (the newest ``limit``)."""
    found = log.read_entries(
        caller, workspace=workspace, since=since, until=until, actor=actor,
        action=action, limit=limit,
    )  # fmt: skip
    return {"object": "list", "data": [e.to_dict() for e in found]}


@router.get("/verify")
def verify(caller: Caller) -> dict[str, Any]:
    """Recompute the hash chain (``ok`` false and the first broken seq on tamper)."""
    require(caller, READ_AUDIT)
    return log.verify().to_dict()
