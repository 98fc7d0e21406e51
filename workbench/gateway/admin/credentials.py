"""``/admin/v1/credentials``: provider credentials and workspace bindings over HTTP.

Thin handlers over :mod:`workbench.governance.credentials` (the functions the CLI calls),
which check ``credentials:manage`` (admins only) and write the audit log. A secret travels
only *into* the gateway (the body of ``POST /credentials`` and ``POST .../rotate``, held in
a pydantic ``SecretStr`` so it cannot show in a repr or a validation error); no response
carries one.

=======  =========================================================  =====================
method   path (under ``/admin/v1``)                                 body / answer
=======  =========================================================  =====================
POST     ``/credentials``                                           name, provider, secret
GET      ``/credentials[?provider=]``                               ``{"object": "list"}``
GET      ``/credentials/{id}``                                      the record
POST     ``/credentials/{id}/rotate``                               secret
DELETE   ``/credentials/{id}``                                      the deleted record
GET      ``/credentials/bindings[?workspace=]``                     ``{"object": "list"}``
PUT      ``/credentials/bindings/{workspace}/{target}``             credential_id
DELETE   ``/credentials/bindings/{workspace}/{target}``             the removed binding
POST     ``/credentials/rekey``                                     new_key (bool)
=======  =========================================================  =====================
"""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from starlette.responses import JSONResponse

import workbench.governance.credentials as creds
from workbench.gateway.admin._auth import Caller, source

router = APIRouter(prefix="/credentials", tags=["credentials"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewCredential(_Body):
    """``POST /credentials``."""

    name: str = Field(min_length=1, max_length=200)
    provider: str = Field(min_length=1, max_length=100)
    secret: SecretStr


class Rotation(_Body):
    """``POST /credentials/{id}/rotate``."""

    secret: SecretStr


class BindingBody(_Body):
    """``PUT /credentials/bindings/{workspace}/{target}``."""

    credential_id: str = Field(min_length=1, max_length=100)


class Rekey(_Body):
    """``POST /credentials/rekey``."""

    new_key: bool = False


def _listing(items: list[Any]) -> dict[str, Any]:
    return {"object": "list", "data": [i.to_dict() for i in items]}


def _config(request: Request) -> Any:
    """The gateway's config (to refuse deleting a credential a target uses)."""
    cfg = getattr(request.app.state, "workbench_config", None)
    if cfg is None and os.environ.get("WORKBENCH_CONFIG"):
        from workbench.config.gateway import load_config

        cfg = load_config()
    return cfg


@router.get("/bindings")
def list_bindings(caller: Caller, workspace: str | None = None) -> dict[str, Any]:
    """Workspace bindings (of ``workspace``)."""
    return _listing(creds.bindings(caller, workspace))


@router.put("/bindings/{workspace}/{target}")
def put_binding(
    workspace: str, target: str, body: BindingBody, caller: Caller, request: Request
) -> dict[str, Any]:
    """Bind a credential to a workspace for a target (replaces an existing binding)."""
    b = creds.bind(caller, workspace, target, body.credential_id, source=source(request))
    return b.to_dict()


@router.delete("/bindings/{workspace}/{target}")
def delete_binding(workspace: str, target: str, caller: Caller, request: Request) -> dict[str, Any]:
    """Remove a workspace's binding for a target."""
    b = creds.unbind(caller, workspace, target, source=source(request))
    return {**b.to_dict(), "deleted": True}


@router.post("/rekey")
def rekey(body: Rekey, caller: Caller, request: Request) -> dict[str, Any]:
    """Re-encrypt every secret with the first master key (``new_key``: a fresh one)."""
    n = creds.rekey(caller, new_key=body.new_key, source=source(request))
    return {"reencrypted": n, "new_key": body.new_key}


@router.post("", status_code=201)
def add(body: NewCredential, caller: Caller, request: Request) -> JSONResponse:
    """Store a credential; the answer is its record (never the secret)."""
    rec = creds.add(
        caller, name=body.name, provider=body.provider,
        secret=body.secret.get_secret_value(), source=source(request),
    )  # fmt: skip
    return JSONResponse(rec.to_dict(), status_code=201)


@router.get("")
def list_all(caller: Caller, provider: str | None = None) -> dict[str, Any]:
    """Every credential's record."""
    return _listing(creds.list_credentials(caller, provider))


@router.get("/{cred_id}")
def show(cred_id: str, caller: Caller) -> dict[str, Any]:
    """One credential's record."""
    return creds.get(caller, cred_id).to_dict()


@router.post("/{cred_id}/rotate")
def rotate(cred_id: str, body: Rotation, caller: Caller, request: Request) -> dict[str, Any]:
    """Replace a credential's secret (gateways use the new one within about a second)."""
    secret = body.secret.get_secret_value()
    return creds.rotate(caller, cred_id, secret, source=source(request)).to_dict()


@router.delete("/{cred_id}")
def delete(cred_id: str, caller: Caller, request: Request) -> dict[str, Any]:
    """Delete a credential no binding or target uses."""
    rec = creds.delete(caller, cred_id, config=_config(request), source=source(request))
    return {**rec.to_dict(), "deleted": True}
