"""Governance: identities, roles and permissions, workspaces, provider credentials, audit.

Ray-free and web-framework-free: the CLI, the admin REST API (``workbench.gateway.admin``)
and the dashboard all call these functions, passing the acting :class:`Principal`.

::

    from workbench.governance import cli_principal, require, MANAGE_KEYS
    from workbench.governance import audit            # hash-chained audit log

Modules: ``permissions`` (the role table, :class:`Principal`, :func:`require`),
``workspaces`` (the workspace registry), ``members`` (people and their roles per
workspace; one organisation per ``WORKBENCH_HOME``), ``_keys`` (governed key management:
``create_key``, ``list_keys``, ``get_key``, ``revoke_key``, ``update_key``), ``audit``
(the audit log). Names are imported on
first use.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_P = "workbench.governance.permissions"
_LAZY: dict[str, str] = {
    "ADMIN": _P,
    "ALL_PERMISSIONS": _P,
    "ANALYST": _P,
    "APP": _P,
    "CALL_MODELS": _P,
    "GRANTABLE": _P,
    "MANAGE_CREDENTIALS": _P,
    "MANAGE_DATA": _P,
    "MANAGE_KEYS": _P,
    "MANAGE_LIMITS": _P,
    "MANAGE_MEMBERS": _P,
    "MANAGE_WORKSPACES": _P,
    "POLICY_AUTHOR": _P,
    "READ_AUDIT": _P,
    "READ_BODIES": _P,
    "READ_LOGS": _P,
    "ROLE_PERMISSIONS": _P,
    "WRITE_POLICIES": _P,
    "Principal": _P,
    "cap_to_membership": _P,
    "membership_permissions": _P,
    "cli_principal": _P,
    "permissions_for": _P,
    "principal_for_key": _P,
    "require": _P,
    "require_workspace": _P,
    "validate_grants": _P,
    "validate_role": _P,
}

_K = "workbench.governance._keys"
_W = "workbench.governance.workspaces"
_M = "workbench.governance.members"
_LAZY.update(
    {
        "create_key": _K,
        "get_key": _K,
        "list_keys": _K,
        "revoke_key": _K,
        "update_key": _K,
        "Workspace": _W,
        "create_workspace": _W,
        "delete_workspace": _W,
        "get_workspace": _W,
        "list_workspaces": _W,
        "update_workspace": _W,
        "Member": _M,
        "Membership": _M,
        "create_member": _M,
        "disable_member": _M,
        "enable_member": _M,
        "get_member": _M,
        "list_members": _M,
        "remove_membership": _M,
        "set_membership": _M,
        "update_member": _M,
    }
)

__all__ = sorted(_LAZY)

__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
