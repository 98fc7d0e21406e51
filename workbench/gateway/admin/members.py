"""``/admin/v1/members``: people and their memberships (admin-only).

Thin: every handler calls :mod:`workbench.governance.members` (the functions
``workbench members ...`` calls) with the caller's principal, which checks
``members:manage`` and writes the audit entry. ``{member}`` is a member id or an email.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from workbench.gateway.admin._auth import Caller, Keys, source
from workbench.governance import members as gm

router = APIRouter(prefix="/members", tags=["members"])


class MemberCreate(BaseModel):
    """Body of ``POST /admin/v1/members``."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=254)
    display_name: str | None = Field(default=None, max_length=200)


class MemberUpdate(BaseModel):
    """Body of ``PATCH /admin/v1/members/{member}`` (fields left out stay as they are;
    ``"disabled": true`` disables the member and refuses all their keys)."""

    model_config = ConfigDict(extra="forbid")
    email: str | None = Field(default=None, max_length=254)
    display_name: str | None = Field(default=None, max_length=200)
    disabled: bool | None = None


class MembershipSet(BaseModel):
    """Body of ``POST /admin/v1/members/{member}/memberships`` (add or change)."""

    model_config = ConfigDict(extra="forbid")
    workspace: str = Field(max_length=64)
    role: str = Field(max_length=32)
    grants: list[str] = Field(default_factory=list, max_length=16)


def _out(member: gm.Member) -> dict[str, Any]:
    return {"object": "member", **member.to_dict()}


@router.get("")
def list_members(
    who: Caller,
    store: Keys,
    workspace: Annotated[str | None, Query(max_length=64)] = None,
    include_disabled: bool = True,
) -> dict[str, Any]:
    """Members (only one workspace's when given), by email."""
    found = gm.list_members(who, workspace, include_disabled=include_disabled, store=store)
    return {"object": "list", "data": [_out(m) for m in found]}


@router.post("", status_code=201)
def create_member(body: MemberCreate, request: Request, who: Caller, store: Keys) -> dict[str, Any]:
    """Add a person (409 when the email is taken)."""
    made = gm.create_member(who, body.email, body.display_name, store=store, source=source(request))
    return _out(made)


@router.get("/{member}")
def get_member(member: str, who: Caller, store: Keys) -> dict[str, Any]:
    """One member with their memberships."""
    return _out(gm.get_member(who, member, store=store))


@router.patch("/{member}")
def update_member(
    member: str, body: MemberUpdate, request: Request, who: Caller, store: Keys
) -> dict[str, Any]:
    """Change email or display name; disable or enable."""
    changes = {f: getattr(body, f) for f in body.model_fields_set}
    if changes.get("email", "") is None:
        raise ValueError("email may not be null")
    updated = gm.update_member(who, member, store=store, source=source(request), **changes)
    return _out(updated)


@router.get("/{member}/memberships")
def list_memberships(member: str, who: Caller, store: Keys) -> dict[str, Any]:
    """The member's memberships, by workspace."""
    found = gm.get_member(who, member, store=store)
    data = [{"object": "membership", **m.to_dict()} for m in found.memberships]
    return {"object": "list", "member_id": found.member_id, "data": data}


@router.post("/{member}/memberships")
def set_membership(
    member: str, body: MembershipSet, request: Request, who: Caller, store: Keys
) -> dict[str, Any]:
    """Add the member to a workspace with a role, or change their role there."""
    updated = gm.set_membership(
        who, member, body.workspace, body.role, body.grants, store=store, source=source(request)
    )
    return _out(updated)


@router.delete("/{member}/memberships/{workspace}")
def remove_membership(
    member: str, workspace: str, request: Request, who: Caller, store: Keys
) -> dict[str, Any]:
    """Remove the member from a workspace (their keys there are refused from then on)."""
    updated = gm.remove_membership(who, member, workspace, store=store, source=source(request))
    return _out(updated)
