"""Members: the people of the organisation, their roles per workspace, and their keys.

One deployment (one ``WORKBENCH_HOME``) is one organisation: organisation -> workspaces
-> members and keys. A member is a person (an email, unique case-insensitively, and a
display name) who holds at most one role per workspace (a *membership*, with optional
extra grants from ``GRANTABLE``). A key may belong to one member (``member_id``); keys
without a member are service/app keys and work exactly as before.

A member's key is capped by the membership in the key's workspace: it never holds more
than the membership allows. Creating (or raising) a key above the membership is refused
(``role_exceeds_membership``); downgrading a membership caps the member's existing keys;
disabling the member or removing the membership refuses all their keys there (401
``member_disabled`` / ``membership_removed``). Each of these changes reaches every
gateway within its key cache's ``recheck_interval`` (1 s by default), like a revoke.

Everything here is admin-only (``members:manage``) and audited (``member.create``,
``member.update``, ``membership.set``, ``membership.remove``, with before/after).

::

    from workbench.governance import cli_principal, members, create_key
    me = cli_principal()
    alice = members.create_member(me, "alice@example.com", "Alice")
    members.set_membership(me, alice.member_id, "team-a", "analyst")
    create_key(me, "team-a", "alice-nb", role="analyst", member_id=alice.member_id)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from workbench.errors import NotFoundError
from workbench.governance import _memberdb as db
from workbench.governance import audit
from workbench.governance._memberdb import Member, Membership
from workbench.governance._store import opened
from workbench.governance.permissions import MANAGE_MEMBERS, Principal, require

if TYPE_CHECKING:
    from workbench.keys import KeyStore

_UNSET: Any = object()


def _audit(
    principal: Principal,
    action: str,
    member_id: str,
    *,
    before: Any = None,
    after: Any = None,
    workspace: str | None = None,
    source: str | None = None,
) -> None:
    audit.record(
        action,
        actor=principal.actor,
        target=f"member:{member_id}",
        workspace=workspace,
        before=before,
        after=after,
        source=source,
    )


def create_member(
    principal: Principal,
    email: str,
    display_name: str | None = None,
    *,
    store: KeyStore | None = None,
    source: str | None = None,
) -> Member:
    """Add a person (409 ``member_exists`` when the email is taken, in any case)."""
    require(principal, MANAGE_MEMBERS)
    with opened(store) as ks:
        created = db.fetch(ks, db.insert(ks, email, display_name))
    _audit(principal, "member.create", created.member_id, after=created.to_dict(), source=source)
    return created


def list_members(
    principal: Principal,
    workspace: str | None = None,
    *,
    include_disabled: bool = True,
    store: KeyStore | None = None,
) -> list[Member]:
    """Members (only the members of ``workspace`` when given), by email."""
    require(principal, MANAGE_MEMBERS, workspace)
    with opened(store) as ks:
        return db.select(ks, workspace, include_disabled)


def get_member(principal: Principal, ref: str, *, store: KeyStore | None = None) -> Member:
    """One member, by id or by email (404 ``member_not_found``)."""
    require(principal, MANAGE_MEMBERS)
    with opened(store) as ks:
        return db.fetch(ks, ref)


def update_member(
    principal: Principal,
    ref: str,
    *,
    email: str = _UNSET,
    display_name: str | None = _UNSET,
    disabled: bool | None = None,
    store: KeyStore | None = None,
    source: str | None = None,
) -> Member:
    """Change a member's email or display name, or disable (``disabled=True``: every key of
    theirs is refused) / enable them; audited as ``member.update`` with before/after."""
    require(principal, MANAGE_MEMBERS)
    with opened(store) as ks:
        before = db.fetch(ks, ref)
        sets: dict[str, Any] = {}
        if email is not _UNSET:
            sets["email"] = email
        if display_name is not _UNSET:
            sets["display_name"] = display_name
        if disabled is not None and disabled != before.disabled:
            sets["disabled_at"] = db.now() if disabled else None
        if not sets:
            return before
        db.update(ks, before.member_id, sets)
        after = db.fetch(ks, before.member_id)
    _audit(
        principal, "member.update", after.member_id,
        before=before.to_dict(), after=after.to_dict(), source=source,
    )  # fmt: skip
    return after


def disable_member(
    principal: Principal, ref: str, *, store: KeyStore | None = None, source: str | None = None
) -> Member:
    """Disable a member: all their keys are refused (401 ``member_disabled``)."""
    return update_member(principal, ref, disabled=True, store=store, source=source)


def enable_member(
    principal: Principal, ref: str, *, store: KeyStore | None = None, source: str | None = None
) -> Member:
    """Enable a disabled member again (their unrevoked keys work again)."""
    return update_member(principal, ref, disabled=False, store=store, source=source)


def set_membership(
    principal: Principal,
    ref: str,
    workspace: str,
    role: str,
    grants: Iterable[str] = (),
    *,
    store: KeyStore | None = None,
    source: str | None = None,
) -> Member:
    """Make the member ``role`` in ``workspace`` (adding or changing the membership; the
    workspace must exist). A downgrade caps the member's keys there at once."""
    require(principal, MANAGE_MEMBERS, workspace)
    with opened(store) as ks:
        member = db.fetch(ks, ref)
        before = _membership(member, workspace)
        db.upsert_membership(ks, member.member_id, workspace, role, tuple(grants))
        after_member = db.fetch(ks, member.member_id)
    after = _membership(after_member, workspace)
    _audit(
        principal, "membership.set", member.member_id, workspace=workspace, source=source,
        before=None if before is None else before.to_dict(),
        after=None if after is None else after.to_dict(),
    )  # fmt: skip
    return after_member


def remove_membership(
    principal: Principal,
    ref: str,
    workspace: str,
    *,
    store: KeyStore | None = None,
    source: str | None = None,
) -> Member:
    """Remove the member from ``workspace`` (404 ``membership_not_found`` when they are not
    in it); their keys there are refused from then on (401 ``membership_removed``)."""
    require(principal, MANAGE_MEMBERS, workspace)
    with opened(store) as ks:
        member = db.fetch(ks, ref)
        before = _membership(member, workspace)
        if before is None:
            raise NotFoundError(
                f"member {member.member_id!r} is not a member of workspace {workspace!r}",
                code="membership_not_found",
            )
        db.delete_membership(ks, member.member_id, workspace)
        after_member = db.fetch(ks, member.member_id)
    _audit(
        principal, "membership.remove", member.member_id, workspace=workspace,
        before=before.to_dict(), source=source,
    )  # fmt: skip
    return after_member


def _membership(member: Member, workspace: str) -> Membership | None:
    return next((m for m in member.memberships if m.workspace == workspace), None)


__all__ = [
    "Member",
    "Membership",
    "create_member",
    "disable_member",
    "enable_member",
    "get_member",
    "list_members",
    "remove_membership",
    "set_membership",
    "update_member",
]
