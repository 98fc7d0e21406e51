"""Who is calling the admin API, and how its errors look.

:func:`principal` is the FastAPI dependency every admin route takes: it turns
``Authorization: Bearer wb-...`` into a :class:`~workbench.governance.Principal` with the
gateway's key store (verified off the event loop, with the store's cache and revocation
checks). A missing, malformed, unknown, revoked or expired key answers 401; permission
checks (403) are made by the governed functions the routes call. Every error is
OpenAI-shaped (``{"error": {"message", "type", "code", "param"}}``), never echoes a
presented key, and bad input is a 4xx, never a 5xx.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.exceptions import RequestValidationError
from starlette.responses import JSONResponse, Response

from workbench.errors import (
    InvalidRequestError,
    NotFoundError,
    UnprocessableError,
    WorkbenchError,
)
from workbench.governance.permissions import Principal, principal_for_key
from workbench.keys import KeyStore
from workbench.pipeline.stages.auth import bearer

#: Where the admin API lives.
PREFIX = "/admin/v1"

_STATE_KEY = "workbench_admin_keystore"
_open_lock = threading.Lock()


def set_keystore(app: Any, store: KeyStore | None) -> None:
    """Use ``store`` for the admin API of ``app`` (None: open ``KeyStore()`` on first use)."""
    setattr(app.state, _STATE_KEY, store)


def keystore(request: Request) -> KeyStore:
    """The key store of the app serving ``request`` (a FastAPI dependency)."""
    state = request.app.state
    store = getattr(state, _STATE_KEY, None)
    if store is None:
        with _open_lock:
            store = getattr(state, _STATE_KEY, None)
            if store is None:
                store = KeyStore()
                setattr(state, _STATE_KEY, store)
    return store


async def principal(request: Request) -> Principal:
    """The authenticated caller (401 ``AuthenticationError`` when there is none)."""
    token = bearer(request.headers)
    record = await keystore(request).averify(token)
    return principal_for_key(record)


#: A route parameter typed ``Keys`` receives the app's key store.
Keys = Annotated[KeyStore, Depends(keystore)]


#: A route parameter typed ``Caller`` receives the authenticated principal.
Caller = Annotated[Principal, Depends(principal)]


def error_response(err: WorkbenchError) -> Response:
    """The OpenAI-shaped JSON response of ``err``."""
    headers = {}
    if err.retry_after_s is not None:
        headers["retry-after"] = str(max(1, round(err.retry_after_s)))
    return JSONResponse(err.to_body(), status_code=err.status, headers=headers)


def is_admin_path(request: Request) -> bool:
    """Whether ``request`` is for the admin API."""
    path = request.url.path
    return path == PREFIX or path.startswith(PREFIX + "/")


async def on_workbench_error(request: Request, exc: Exception) -> Response:
    """Exception handler: a ``WorkbenchError`` raised by a route."""
    assert isinstance(exc, WorkbenchError)
    return error_response(exc)


async def on_value_error(request: Request, exc: Exception) -> Response:
    """Exception handler: a ``ValueError`` from an admin route is bad input (400)."""
    if not is_admin_path(request):
        raise exc
    return error_response(InvalidRequestError(str(exc)[:500], code="invalid_value"))


def validation_response(exc: RequestValidationError) -> Response:
    """422 for a request body or parameter FastAPI could not validate (first problem named)."""
    errors = exc.errors()
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(loc) or None
    msg = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return error_response(InvalidRequestError("request body is not valid JSON"))
    return error_response(UnprocessableError(f"{param or 'request'}: {msg}", param=param))


def http_error_response(request: Request, status: int) -> Response:
    """An unknown admin route (404) or method (405), OpenAI-shaped."""
    path = request.url.path[:200]
    if status == 405:
        err: WorkbenchError = InvalidRequestError(
            f"method {request.method} not allowed on {path}", code="method_not_allowed"
        )
        err.status = 405
    elif status == 404:
        err = NotFoundError(f"no admin route {request.method} {path}", code="unknown_route")
    else:
        err = InvalidRequestError(f"request failed with HTTP {status}")
        err.status = status if 400 <= status < 500 else 400
    return error_response(err)


def source(request: Request) -> str:
    """Where an admin call came from, for the audit log: ``api:<client address>`` (the
    address resolved through the configured trusted proxies, see :func:`client_address`)."""
    return f"api:{client_address(request)}"


def client_address(request: Request) -> str | None:
    """The client's address: ``X-Forwarded-For`` is honoured only from a trusted proxy."""
    from workbench.governance.proxies import client_ip

    peer = request.client.host if request.client else None
    trusted = getattr(request.app.state, "workbench_trusted_proxies", ())
    return client_ip(peer, request.headers.get("x-forwarded-for"), trusted)
