"""Stage: authenticate the caller (API key -> key id and workspace)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, Protocol

from workbench.errors import AuthenticationError
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


def authenticate(auth: Authenticator | None) -> Stage:
    """The stage; with ``auth=None`` every request runs in workspace ``default``."""

    async def stage(ex: Exchange) -> Reply | None:
        if auth is None:
            ex.ctx.workspace = "default"
            return None
        rec = await _verify(auth, bearer(ex.incoming.headers))
        ex.ctx.key_id = rec.key_id
        ex.ctx.workspace = rec.workspace
        return None

    return stage
