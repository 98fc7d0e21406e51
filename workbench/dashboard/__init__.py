"""The Panel dashboard (``workbench dashboard``): live traffic, cost, anomalies,
guardrails, the log explorer and policies, behind a key login.

    from workbench.dashboard import DashboardSettings, serve
    serve(DashboardSettings(port=8501))          # blocks; Ctrl-C / SIGTERM stop it

Pages are built against :class:`DashboardContext` (who is logged in, what they may read)
and registered with :func:`workbench.dashboard.pages.page`. Names are imported on first
use, so importing this package does not import Panel.
"""

from __future__ import annotations

from workbench._lazy import lazy_exports

_LAZY: dict[str, str] = {
    "DashboardContext": "workbench.dashboard._context",
    "Principal": "workbench.dashboard._context",
    "DASHBOARD_ROLES": "workbench.dashboard._context",
    "role_permissions": "workbench.dashboard._context",
    "DashboardSettings": "workbench.dashboard._server",
    "build_server": "workbench.dashboard._server",
    "load_pages": "workbench.dashboard._server",
    "serve": "workbench.dashboard._server",
    "KeyAuth": "workbench.dashboard._auth",
    "COOKIE_NAME": "workbench.dashboard._auth",
    "LOGIN_URL": "workbench.dashboard._auth",
    "LOGOUT_URL": "workbench.dashboard._auth",
}

__all__ = sorted(_LAZY)


__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
