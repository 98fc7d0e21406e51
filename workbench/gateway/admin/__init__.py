"""The admin REST API under ``/admin/v1`` (authenticated by keys; OpenAI-shaped errors).

One :data:`router` includes each area's routes (``keys``, ``workspaces``, ``credentials``,
``limits``, ``audit``, ``data``). Route handlers are thin: they call the same governed
functions as the CLI, passing the caller's :class:`~workbench.governance.Principal`
(from :func:`workbench.gateway.admin._auth.principal`), which check permissions and record
audit entries. :func:`mount` adds the router and its error handling to an app.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter

from workbench.errors import WorkbenchError
from workbench.gateway.admin._auth import (
    PREFIX,
    http_error_response,
    is_admin_path,
    keystore,
    on_value_error,
    on_workbench_error,
    principal,
    set_keystore,
    validation_response,
)

if TYPE_CHECKING:
    from workbench.keys import KeyStore

router = APIRouter(prefix=PREFIX)


def mount(app: Any, store: KeyStore | None = None) -> None:
    """Serve the admin API on ``app`` with ``store`` (None: ``KeyStore()`` on first use)."""
    set_keystore(app, store)
    app.include_router(router)
    app.add_exception_handler(WorkbenchError, on_workbench_error)
    app.add_exception_handler(ValueError, on_value_error)


__all__ = [
    "PREFIX",
    "http_error_response",
    "is_admin_path",
    "keystore",
    "mount",
    "principal",
    "router",
    "validation_response",
]
