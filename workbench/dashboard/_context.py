"""What every dashboard page is given: who is looking, what they may do, where the data is.

A page never opens files on its own: it reads the log lake through ``workbench.logs`` and
the analytics packages with ``ctx.log_dir`` and scopes every query to ``ctx.workspaces``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

#: Roles a dashboard login can hold (a key's ``role``; see ``workbench keys create --role``).
Role = Literal["admin", "policy-author", "analyst"]

#: What each permission name allows on the dashboard.
Permission = Literal["view", "read_bodies", "publish_policy", "ack_anomaly"]

_ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"view", "read_bodies", "publish_policy", "ack_anomaly"}),
    "policy-author": frozenset({"view", "read_bodies", "publish_policy", "ack_anomaly"}),
    "analyst": frozenset({"view", "ack_anomaly"}),
}

#: Roles allowed to log in to the dashboard at all.
DASHBOARD_ROLES = frozenset(_ROLE_PERMISSIONS)


def role_permissions(role: str) -> frozenset[str]:
    """The permissions a role carries on the dashboard (empty for ``app`` keys)."""
    return _ROLE_PERMISSIONS.get(role, frozenset())


@dataclass(frozen=True)
class Principal:
    """The logged-in user: the dashboard key's id, workspace and role."""

    key_id: str
    workspace: str
    role: str
    name: str | None = None

    @property
    def permissions(self) -> frozenset[str]:
        """What this principal may do on the dashboard."""
        return role_permissions(self.role)


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
