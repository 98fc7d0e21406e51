"""Roles and permissions: who may do what, in which workspaces.

A :class:`Principal` is the caller of any governed function: an API key
(:func:`principal_for_key`) or the operator at the machine (:func:`cli_principal`).
:func:`require` is the one check every administrative function, admin route and
dashboard action makes; it raises :class:`~workbench.errors.PermissionDeniedError`
(403, OpenAI-shaped ``permission_error``).

The role table (``ROLE_PERMISSIONS``):

================  =======================================================  ==============
role              permissions                                               workspaces
================  =======================================================  ==============
``admin``         everything (every constant below)                         all
``policy-author`` ``models:call``, ``logs:read``, ``policies:write``        its own
``analyst``       ``logs:read`` (logs and analytics)                         its own
``app``           ``models:call``                                            its own
================  =======================================================  ==============

Request bodies (``logs:bodies``) are never part of a non-admin role: a key gets them only
through an explicit grant. A key may carry extra grants only from :data:`GRANTABLE`
(``logs:bodies``, ``logs:read``, ``models:call``); administrative permissions can never be
granted to a non-admin key, so a role is an upper bound that only an admin can raise.

Admin keys are organisation-wide: an ``admin`` key may act on every workspace whatever
workspace it was created in (its workspace is only where its own traffic is logged).
To delegate within one workspace, give a ``policy-author`` key; there is no
workspace-scoped admin.

Members (people, :mod:`workbench.governance.members`) hold one role per workspace. A key
that belongs to a member is capped by that membership: its permissions are those of its
own role and grants *within* what the membership allows (:func:`cap_to_membership`), so
an ``analyst`` member's key never holds more than ``logs:read``, whatever role the key
row says. ``members:manage`` (admins only) manages members and memberships.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from workbench.errors import PermissionDeniedError

CALL_MODELS = "models:call"
READ_LOGS = "logs:read"
READ_BODIES = "logs:bodies"
WRITE_POLICIES = "policies:write"
MANAGE_KEYS = "keys:manage"
MANAGE_WORKSPACES = "workspaces:manage"
MANAGE_LIMITS = "limits:manage"
MANAGE_CREDENTIALS = "credentials:manage"
READ_AUDIT = "audit:read"
MANAGE_DATA = "data:manage"
MANAGE_MEMBERS = "members:manage"

#: Every permission, in a stable order.
ALL_PERMISSIONS: tuple[str, ...] = (
    CALL_MODELS,
    READ_LOGS,
    READ_BODIES,
    WRITE_POLICIES,
    MANAGE_KEYS,
    MANAGE_WORKSPACES,
    MANAGE_LIMITS,
    MANAGE_CREDENTIALS,
    READ_AUDIT,
    MANAGE_DATA,
    MANAGE_MEMBERS,
)

ADMIN = "admin"
POLICY_AUTHOR = "policy-author"
ANALYST = "analyst"
APP = "app"

#: What each role may do (see the module docstring).
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    ADMIN: frozenset(ALL_PERMISSIONS),
    POLICY_AUTHOR: frozenset({CALL_MODELS, READ_LOGS, WRITE_POLICIES}),
    ANALYST: frozenset({READ_LOGS}),
    APP: frozenset({CALL_MODELS}),
}

#: The only permissions a key may carry on top of its role.
GRANTABLE: frozenset[str] = frozenset({READ_BODIES, READ_LOGS, CALL_MODELS})


@dataclass(frozen=True)
class Principal:
    """Who is acting: an API key or the local operator.

    ``workspaces`` is None for every workspace (admins, the CLI) and otherwise the
    workspaces the principal may act in. ``models`` is None when every model may be
    called, else the names the key may call. ``workspace`` is the key's home workspace
    (where its requests are logged and spent), None for the CLI.
    """

    actor: str
    role: str
    workspaces: frozenset[str] | None
    permissions: frozenset[str]
    key_id: str | None = None
    workspace: str | None = None
    models: frozenset[str] | None = None
    #: The member (person) the key belongs to, None for a service/app key or the CLI.
    member_id: str | None = None

    def can(self, permission: str, workspace: str | None = None) -> bool:
        """Whether :func:`require` would let this principal do ``permission`` there."""
        if permission not in self.permissions:
            return False
        return workspace is None or self.workspaces is None or workspace in self.workspaces

    def may_call(self, model: str) -> bool:
        """Whether the principal may call ``model`` (holds ``models:call``, model allowed)."""
        if CALL_MODELS not in self.permissions:
            return False
        return self.models is None or model in self.models


def validate_role(role: str) -> str:
    """``role`` if it is a known role, else ``ValueError``."""
    if role not in ROLE_PERMISSIONS:
        raise ValueError(f"invalid role {role!r}: choose from {', '.join(ROLE_PERMISSIONS)}")
    return role


def validate_grants(grants: Iterable[str]) -> tuple[str, ...]:
    """The sorted, de-duplicated grants, or ``ValueError`` for one outside :data:`GRANTABLE`."""
    out = sorted(set(grants))
    bad = [g for g in out if g not in GRANTABLE]
    if bad:
        raise ValueError(
            f"grant(s) {', '.join(map(repr, bad))} not allowed: a key may be granted only "
            f"{', '.join(sorted(GRANTABLE))}"
        )
    return tuple(out)


def permissions_for(role: str, grants: Iterable[str] = ()) -> frozenset[str]:
    """The permissions of ``role`` plus the allowed ``grants`` (unknown grants ignored)."""
    base = ROLE_PERMISSIONS.get(role, ROLE_PERMISSIONS[APP])
    return base | (frozenset(grants) & GRANTABLE)


def principal_for_key(record: Any) -> Principal:
    """The principal of a verified key record (:class:`workbench.keys.KeyRecord`; any
    object with ``key_id`` and ``workspace`` works: without a known ``role`` it is ``app``)."""
    role = getattr(record, "role", APP)
    role = role if role in ROLE_PERMISSIONS else APP
    models = tuple(getattr(record, "allowed_models", ()) or ())
    return Principal(
        actor=f"key:{record.key_id}",
        role=role,
        workspaces=None if role == ADMIN else frozenset({record.workspace}),
        permissions=permissions_for(role, getattr(record, "grants", ()) or ()),
        key_id=record.key_id,
        workspace=record.workspace,
        models=frozenset(models) if models else None,
        member_id=getattr(record, "member_id", None),
    )


def membership_permissions(role: str, grants: Iterable[str] = ()) -> frozenset[str]:
    """What a membership with ``role`` (and extra ``grants``) allows in its workspace."""
    return ROLE_PERMISSIONS[validate_role(role)] | (frozenset(grants) & GRANTABLE)


def cap_to_membership(
    role: str, grants: Iterable[str], allowed: frozenset[str]
) -> tuple[str, tuple[str, ...]] | None:
    """A key's ``role`` and ``grants`` capped by what its member's membership ``allowed``
    (:func:`membership_permissions`): the role and grants whose permissions are exactly
    the key's permissions within ``allowed``, or None when no role fits (the key may do
    nothing there). The key's own role is kept when it fits; otherwise the largest role
    inside the intersection is taken and the rest of the intersection becomes grants."""
    inter = permissions_for(role, grants) & allowed
    if ROLE_PERMISSIONS.get(role, frozenset({"?"})) <= inter:
        capped = role
    else:
        fits = [r for r, perms in ROLE_PERMISSIONS.items() if perms <= inter]
        if not fits:
            return None
        capped = max(fits, key=lambda r: len(ROLE_PERMISSIONS[r]))
    return capped, tuple(sorted(inter - ROLE_PERMISSIONS[capped]))


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers)
        return os.environ.get("USER") or str(os.getuid())


def cli_principal() -> Principal:
    """The operator at this machine (the CLI, notebooks): an admin of every workspace."""
    return Principal(
        actor=f"cli:{_os_user()}",
        role=ADMIN,
        workspaces=None,
        permissions=ROLE_PERMISSIONS[ADMIN],
    )


def require(principal: Principal, permission: str, workspace: str | None = None) -> None:
    """Raise ``PermissionDeniedError`` (403) unless ``principal`` may do ``permission``
    (in ``workspace`` when given)."""
    who = principal.actor
    if permission not in principal.permissions:
        raise PermissionDeniedError(
            f"{who} (role {principal.role}) lacks the permission {permission!r}",
            code="permission_denied",
        )
    if workspace is not None:
        require_workspace(principal, workspace)


def require_workspace(principal: Principal, workspace: str) -> None:
    """Raise ``PermissionDeniedError`` (403 ``workspace_forbidden``) unless ``principal``
    may act in ``workspace`` (whatever the permission)."""
    if principal.workspaces is not None and workspace not in principal.workspaces:
        raise PermissionDeniedError(
            f"{principal.actor} may not act in workspace {workspace!r}",
            code="workspace_forbidden",
        )


__all__ = [
    "ADMIN",
    "ALL_PERMISSIONS",
    "ANALYST",
    "APP",
    "CALL_MODELS",
    "GRANTABLE",
    "MANAGE_CREDENTIALS",
    "MANAGE_DATA",
    "MANAGE_KEYS",
    "MANAGE_LIMITS",
    "MANAGE_MEMBERS",
    "MANAGE_WORKSPACES",
    "POLICY_AUTHOR",
    "READ_AUDIT",
    "READ_BODIES",
    "READ_LOGS",
    "ROLE_PERMISSIONS",
    "WRITE_POLICIES",
    "Principal",
    "cap_to_membership",
    "cli_principal",
    "membership_permissions",
    "permissions_for",
    "principal_for_key",
    "require",
    "require_workspace",
    "validate_grants",
    "validate_role",
]
