"""What every dashboard page is given: who is looking, what they may do, where the data is.

A page never opens files on its own: it reads the log lake through ``workbench.logs`` and
the analytics packages with ``ctx.log_dir`` and scopes every query to ``ctx.workspaces``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from workbench.governance.permissions import (
    READ_BODIES,
    READ_LOGS,
    ROLE_PERMISSIONS,
    WRITE_POLICIES,
    permissions_for,
)

#: Roles a dashboard login can hold (a key's ``role``; see ``workbench keys create --role``).
Role = Literal["admin", "policy-author", "analyst"]

#: What each permission name allows on the dashboard.
Permission = Literal["view", "read_bodies", "publish_policy", "ack_anomaly"]

#: Each dashboard permission and the governance permission it takes: the dashboard uses
#: the gateway's and admin API's role table (:mod:`workbench.governance.permissions`) and
#: the same per-key grants (bodies need ``logs:bodies``).
DASHBOARD_PERMISSIONS: dict[str, str] = {
    "view": READ_LOGS,
    "ack_anomaly": READ_LOGS,
    "read_bodies": READ_BODIES,
    "publish_policy": WRITE_POLICIES,
}

#: Roles allowed to log in to the dashboard at all (those that read logs).
DASHBOARD_ROLES = frozenset(r for r, perms in ROLE_PERMISSIONS.items() if READ_LOGS in perms)


def role_permissions(role: str, grants: Iterable[str] = ()) -> frozenset[str]:
    """The permissions a role (plus a key's grants) carries on the dashboard."""
    held = permissions_for(role, grants) if role in ROLE_PERMISSIONS else frozenset()
    return frozenset(d for d, need in DASHBOARD_PERMISSIONS.items() if need in held)


@dataclass(frozen=True)
class Principal:
    """The logged-in user: the dashboard key's id, workspace, role and grants."""

    key_id: str
    workspace: str
    role: str
    name: str | None = None
    grants: tuple[str, ...] = ()

    @property
    def permissions(self) -> frozenset[str]:
        """What this principal may do on the dashboard."""
        return role_permissions(self.role, self.grants)


@dataclass(frozen=True)
class DashboardContext:
    """Per-session state handed to every page builder.

    ``workspaces`` is ``None`` for an admin (every workspace) and the principal's own
    workspace otherwise; pages pass it to every query so nobody reads another workspace.
    """

    principal: Principal
    log_dir: Path
    home: Path
    gateway_url: str | None = None
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def workspaces(self) -> tuple[str, ...] | None:
        """Workspaces this session may read (``None``: all of them)."""
        if self.principal.role == "admin":
            return None
        return (self.principal.workspace,)

    def can(self, permission: Permission) -> bool:
        """Whether the logged-in principal holds ``permission``."""
        return permission in self.principal.permissions
