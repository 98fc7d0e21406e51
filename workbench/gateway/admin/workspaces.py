"""``/admin/v1/workspaces``: list, create, show, update, delete-if-empty.

Thin: every handler calls :mod:`workbench.governance.workspaces` (the functions
``workbench workspaces ...`` calls) with the caller's principal, which checks permissions
and writes the audit entry.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from workbench.gateway.admin._auth import Caller, Keys, source
from workbench.governance import workspaces as ws

router = APIRouter(prefix="/workspaces", tags=["workspaces"])


class WorkspaceCreate(BaseModel):
    """Body of ``POST /admin/v1/workspaces``."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=64)
    display_name: str | None = Field(default=None, max_length=200)
    settings: dict[str, Any] | None = None


class WorkspaceUpdate(BaseModel):
    """Body of ``PATCH /admin/v1/workspaces/{name}`` (fields left out stay as they are)."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, max_length=200)
    settings: dict[str, Any] | None = None


def _out(w: ws.Workspace) -> dict[str, Any]:
    return {"object": "workspace", **w.to_dict()}


@router.get("")
def list_workspaces(who: Caller, store: Keys) -> dict[str, Any]:
    """The workspaces the caller may act in."""
    return {"object": "list", "data": [_out(w) for w in ws.list_workspaces(who, store=store)]}


@router.post("", status_code=201)
def create_workspace(
    body: WorkspaceCreate,
    request: Request,
    who: Caller,
    store: Keys,
) -> dict[str, Any]:
    """Register a workspace (409 when it exists)."""
    created = ws.create_workspace(
        who,
        body.name,
        display_name=body.display_name,
        settings=body.settings,
        store=store,
        source=source(request),
    )
    return _out(created)


@router.get("/{name}")
def get_workspace(name: str, who: Caller, store: Keys) -> dict[str, Any]:
    """One workspace."""
    return _out(ws.get_workspace(who, name, store=store))


@router.patch("/{name}")
def update_workspace(
    name: str,
    body: WorkspaceUpdate,
    request: Request,
    who: Caller,
    store: Keys,
) -> dict[str, Any]:
    """Change the display name and/or replace the settings."""
    changes = {f: getattr(body, f) for f in body.model_fields_set}
    updated = ws.update_workspace(who, name, store=store, source=source(request), **changes)
    return _out(updated)


@router.delete("/{name}")
def delete_workspace(
    name: str,
    request: Request,
    who: Caller,
    store: Keys,
) -> dict[str, Any]:
    """Delete a workspace with no unrevoked keys (409 otherwise)."""
    ws.delete_workspace(who, name, store=store, source=source(request))
    return {"object": "workspace", "name": name, "deleted": True}
