"""A member's key, capped by the member's membership (key-store schema 3).

A key with a ``member_id`` belongs to a person (:mod:`workbench.governance.members`). Its
permissions are its role and grants *within* what the member's role in the key's
workspace allows (:func:`~workbench.governance.permissions.cap_to_membership`). The
verifier applies :func:`effective` to every row it reads, so a disabled member, a removed
membership or a downgraded one takes effect with the next generation re-read (every
member change bumps the generation, like a revoke). :func:`check_mint` is what key
creation and key updates run, inside their write transaction: a key may never be given
more than its member's membership allows.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from typing import NamedTuple

from workbench.errors import AuthenticationError, InvalidRequestError, NotFoundError
from workbench.governance.permissions import (
    cap_to_membership,
    membership_permissions,
    permissions_for,
)
from workbench.keys.records import KeyRecord

#: Rejection codes that depend on member state (not permanent for the key string): the
#: verification cache forgets them when the generation moves.
MEMBER_DENIALS = frozenset({"member_disabled", "membership_removed", "membership_insufficient"})


class MemberState(NamedTuple):
    """What verification reads of a key's member, in the same statement as the key."""

    exists: bool
    disabled_at: str | None
    role: str | None  # the member's role in the key's workspace (None: no membership)
    grants: tuple[str, ...]


def member_state(row: tuple[object, ...]) -> MemberState:
    """A :class:`MemberState` from ``(member_id, disabled_at, role, grants)`` of the join."""
    found, disabled, role, grants = row
    return MemberState(
        found is not None,
        None if disabled is None else str(disabled),
        None if role is None else str(role),
        tuple(json.loads(str(grants or "[]"))),
    )


def effective(record: KeyRecord, state: MemberState | None) -> KeyRecord:
    """``record`` with its role and grants capped by the membership; raises a 401
    ``AuthenticationError`` (codes in :data:`MEMBER_DENIALS`) when the member is gone or
    disabled, has no membership in the key's workspace, or leaves the key no role."""
    if record.member_id is None:
        return record
    who = f"API key {record.key_id!r} belongs to member {record.member_id!r}"
    if state is None or not state.exists or state.disabled_at is not None:
        raise AuthenticationError(f"{who}, who is disabled", code="member_disabled")
    if state.role is None:
        raise AuthenticationError(
            f"{who}, who is no longer a member of workspace {record.workspace!r}",
            code="membership_removed",
        )
    capped = cap_to_membership(
        record.role, record.grants, membership_permissions(state.role, state.grants)
    )
    if capped is None:
        raise AuthenticationError(
            f"{who}, whose role {state.role!r} in workspace {record.workspace!r} leaves "
            f"this {record.role} key no permission",
            code="membership_insufficient",
        )
    role, grants = capped
    if role == record.role and grants == tuple(sorted(record.grants)):
        return record
    return replace(record, role=role, grants=grants)


def check_mint(
    conn: sqlite3.Connection, member_id: str, workspace: str, role: str, grants: tuple[str, ...]
) -> None:
    """Refuse (``NotFoundError`` / ``InvalidRequestError``) a key for ``member_id`` in
    ``workspace`` with ``role`` and ``grants`` beyond the member's membership there."""
    row = conn.execute(
        "SELECT m.disabled_at, ms.role, ms.grants FROM members m LEFT JOIN memberships ms "
        "ON ms.member_id = m.member_id AND ms.workspace = ? WHERE m.member_id = ?",
        (workspace, member_id),
    ).fetchone()
    if row is None:
        raise NotFoundError(f"unknown member {member_id!r}", code="member_not_found")
    disabled, member_role, member_grants = row
    if disabled is not None:
        raise InvalidRequestError(
            f"member {member_id!r} is disabled: enable them before giving them keys",
            code="member_disabled",
        )
    if member_role is None:
        raise InvalidRequestError(
            f"member {member_id!r} is not a member of workspace {workspace!r}: "
            "grant a membership first",
            code="not_a_member",
        )
    allowed = membership_permissions(member_role, json.loads(member_grants or "[]"))
    extra = permissions_for(role, grants) - allowed
    if extra:
        raise InvalidRequestError(
            f"a {role} key would exceed member {member_id!r}'s membership in workspace "
            f"{workspace!r} (role {member_role}): it would add {', '.join(sorted(extra))}",
            param="role",
            code="role_exceeds_membership",
        )


__all__ = ["MEMBER_DENIALS", "MemberState", "check_mint", "effective", "member_state"]
