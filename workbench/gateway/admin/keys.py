"""``/admin/v1/keys`` and ``/admin/v1/whoami``.

Thin: every handler calls the governed key functions of :mod:`workbench.governance`
(the ones ``workbench keys ...`` calls) with the caller's principal. The full key
appears only in the ``POST /admin/v1/keys`` response; no other answer holds a secret.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from workbench.gateway.admin._auth import Caller, Keys, source
from workbench.governance import _keys as gk
from workbench.keys import KeyRecord

router = APIRouter(tags=["keys"])


class KeyCreate(BaseModel):
    """Body of ``POST /admin/v1/keys``."""

    model_config = ConfigDict(extra="forbid")
    workspace: str = Field(max_length=64)
    name: str | None = Field(default=None, max_length=200)
    role: str = "app"
    allowed_models: list[str] = Field(default_factory=list, max_length=256)
    grants: list[str] = Field(default_factory=list, max_length=16)
    expires_at: datetime | None = None
    #: The member (id or email) the key belongs to; the key stays within their membership.
    member_id: str | None = Field(default=None, max_length=254)


class KeyUpdate(BaseModel):
    """Body of ``PATCH /admin/v1/keys/{key_id}``: fields left out stay as they are;
    ``"expires_at": null`` removes the expiry, ``"allowed_models": []`` allows every model,
    ``"member_id": "m-..."`` attaches the key to a member (within its membership),
    ``"member_id": null`` detaches it."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    role: str | None = None
    allowed_models: list[str] | None = Field(default=None, max_length=256)
    grants: list[str] | None = Field(default=None, max_length=16)
    expires_at: datetime | None = None
    member_id: str | None = Field(default=None, max_length=64)


def _out(record: KeyRecord) -> dict[str, Any]:
    return {"object": "api_key", **record.to_dict()}


@router.get("/whoami")
def whoami(who: Caller, store: Keys) -> dict[str, Any]:
    """The caller: its key, role (capped by its member's membership), workspaces,
    permissions, allowed models and, for a member's key, the member."""
    return {
        "object": "principal",
        "actor": who.actor,
        "key_id": who.key_id,
        "role": who.role,
        "workspace": who.workspace,
        "workspaces": None if who.workspaces is None else sorted(who.workspaces),
        "permissions": sorted(who.permissions),
        "allowed_models": None if who.models is None else sorted(who.models),
        "member": _member(who.member_id, who.workspace, store),
    }


def _member(member_id: str | None, workspace: str | None, store: Any) -> dict[str, Any] | None:
    """What ``whoami`` shows of the caller's member (None for a key without one)."""
    if member_id is None:
        return None
    from workbench.governance._memberdb import fetch

    found = fetch(store, member_id)
    return {
        "member_id": found.member_id,
        "email": found.email,
        "display_name": found.display_name,
        "role": None if workspace is None else found.role_in(workspace),
    }


@router.get("/keys")
def list_keys(
    who: Caller,
    store: Keys,
    workspace: Annotated[str | None, Query(max_length=64)] = None,
    include_revoked: bool = True,
) -> dict[str, Any]:
    """Keys (never their secrets), oldest first."""
    records = gk.list_keys(who, workspace, include_revoked=include_revoked, store=store)
    return {"object": "list", "data": [_out(r) for r in records]}


@router.post("/keys", status_code=201)
def create_key(
    body: KeyCreate,
    request: Request,
    who: Caller,
    store: Keys,
) -> dict[str, Any]:
    """Create a key; the response is the only place the full key is ever shown."""
    record, key = gk.create_key(
        who,
        body.workspace,
        body.name,
        role=body.role,
        allowed_models=body.allowed_models,
        grants=body.grants,
        expires_at=body.expires_at,
        member_id=body.member_id,
        store=store,
        source=source(request),
    )
    return {**_out(record), "key": key}


@router.get("/keys/{key_id}")
def get_key(key_id: str, who: Caller, store: Keys) -> dict[str, Any]:
    """One key's record."""
    return _out(gk.get_key(who, key_id, store=store))


@router.patch("/keys/{key_id}")
def update_key(
    key_id: str,
    body: KeyUpdate,
    request: Request,
    who: Caller,
    store: Keys,
) -> dict[str, Any]:
    """Change role, allowed models, grants, expiry, name or member (takes effect within
    ~1 s)."""
    changes = {f: getattr(body, f) for f in body.model_fields_set}
    record = gk.update_key(who, key_id, store=store, source=source(request), **changes)
    return _out(record)


@router.post("/keys/{key_id}/revoke")
def revoke_key(
    key_id: str,
    request: Request,
    who: Caller,
    store: Keys,
) -> dict[str, Any]:
    """Revoke a key (idempotent); gateways reject it within ~1 s."""
    record, changed = gk.revoke_key(who, key_id, store=store, source=source(request))
    return {**_out(record), "revoked_now": changed}
