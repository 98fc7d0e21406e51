"""Stages: authenticate the caller (API key -> principal) and authorize its model.

:func:`authenticate` verifies the key and puts its key id, workspace and
:class:`~workbench.governance.Principal` (role, permissions, allowed models) in the
context; on the generation endpoints it also requires ``models:call`` (403
``permission_error`` for an analyst key, say). :func:`authorize_model` runs after the body
is parsed: a model outside the key's allowed models is a 403 ``model_not_allowed`` naming
it (one log record with that status, like every refusal).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from workbench.errors import AuthenticationError, PermissionDeniedError
from workbench.governance.permissions import CALL_MODELS, principal_for_key, require
from workbench.pipeline.types import Exchange, Reply, Stage


class Authenticator(Protocol):
    """Verifies a presented API key (``averify`` when it has one: off the event loop)."""

    def verify(self, presented: str) -> Any: ...


def bearer(headers: Mapping[str, str]) -> str:
    """The key from ``Authorization: Bearer <key>``."""
    header = headers.get("authorization")
    if not header:
        raise AuthenticationError(
            "missing API key: send 'Authorization: Bearer <key>'", code="missing_api_key"
        )
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("malformed Authorization header: expected 'Bearer <key>'")
    return token.strip()


async def _verify(auth: Any, token: str) -> Any:
    averify = getattr(auth, "averify", None)
    if averify is not None:
        return await averify(token)
    return await asyncio.to_thread(auth.verify, token)


def authenticate(auth: Authenticator | None, permission: str | None = None) -> Stage:
    """The stage; with ``auth=None`` every request runs in workspace ``default`` with no
    principal (nothing to enforce). ``permission``: what the key's role must hold."""

    async def stage(ex: Exchange) -> Reply | None:
        if auth is None:
            ex.ctx.workspace = "default"
            return None
        rec = await _verify(auth, bearer(ex.incoming.headers))
        ex.ctx.key_id = rec.key_id
        ex.ctx.workspace = rec.workspace
        principal = principal_for_key(rec)
        ex.ctx.principal = principal
        if permission is not None:
            require(principal, permission)
        return None

    return stage


async def authorize_model(ex: Exchange) -> Reply | None:
    """403 ``model_not_allowed`` when the key may not call the requested model."""
    principal = ex.ctx.principal
    model = ex.ctx.model_requested
    if principal is None or model is None or principal.may_call(model):
        return None
    raise PermissionDeniedError(
        f"API key {principal.key_id} is not allowed to use the model '{model[:200]}'",
        param="model",
        code="model_not_allowed",
    )


__all__ = ["CALL_MODELS", "Authenticator", "authenticate", "authorize_model", "bearer"]
