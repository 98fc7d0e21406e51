"""The admin REST API under ``/admin/v1`` (authenticated by keys; OpenAI-shaped errors).

One :data:`router` includes each area's routes (``keys``, ``workspaces``, ``members``,
``credentials``,
``limits``, ``audit``, ``data``). Route handlers are thin: they call the same governed
functions as the CLI, passing the caller's :class:`~workbench.governance.Principal`
(a route parameter typed :data:`Caller`; :data:`Keys` gives the key store and
:func:`source` the ``api:<client address>`` the audit entry records), which check
permissions and record audit entries. :func:`mount` adds the router and its error
handling to an app. Each area's module exposes ``router`` and is included below, one line
each.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from workbench.errors import WorkbenchError
from workbench.gateway.admin import audit as audit_routes
from workbench.gateway.admin import credentials, keys, members, workspaces
from workbench.gateway.admin import data as data_routes
from workbench.gateway.admin import limits as limits_routes
from workbench.gateway.admin._auth import (
    PREFIX,
    Caller,
    Keys,
    http_error_response,
    is_admin_path,
    keystore,
    on_value_error,
    on_workbench_error,
    principal,
    set_keystore,
    source,
    validation_response,
)
from workbench.keys import KeyStore

router = APIRouter(prefix=PREFIX)
router.include_router(keys.router)
router.include_router(workspaces.router)
router.include_router(members.router)
router.include_router(credentials.router)
router.include_router(audit_routes.router)
router.include_router(data_routes.router)
router.include_router(limits_routes.router)


def mount(app: Any, store: KeyStore | None = None, *, trusted_proxies: Any = ()) -> None:
    """Serve the admin API on ``app`` with ``store`` (None: ``KeyStore()`` on first use);
    ``trusted_proxies``: the proxies whose ``X-Forwarded-For`` names the audited client.
    Any other authenticator (a test's stand-in) is not used: the API opens ``KeyStore()``."""
    set_keystore(app, store if isinstance(store, KeyStore) else None)
    app.state.workbench_trusted_proxies = tuple(trusted_proxies)
    app.include_router(router)
    app.add_exception_handler(WorkbenchError, on_workbench_error)
    app.add_exception_handler(ValueError, on_value_error)


__all__ = [
    "PREFIX",
    "Caller",
    "Keys",
    "http_error_response",
    "is_admin_path",
    "keystore",
    "mount",
    "principal",
    "router",
    "source",
    "validation_response",
]
