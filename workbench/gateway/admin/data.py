"""``/admin/v1/data``: data policies, retention and erasure over HTTP (``data:manage``).

=======  ================================  ==========================================
method   path (under ``/admin/v1``)        body / answer
=======  ================================  ==========================================
GET      ``/data/policies``                ``{"object": "list", "data": [policy]}``
PUT      ``/data/policies/{workspace}``    retention_days (int or null), bodies
POST     ``/data/retention``               workspace (optional) → the report
POST     ``/data/erasure``                 user and/or key_id, workspace → the report
=======  ================================  ==========================================

Thin handlers over :mod:`workbench.governance.datapolicy`, :mod:`~.retention` and
:mod:`~.erasure` (the functions the CLI calls; they check permissions and audit). Erasure
and retention run in the gateway's LogSink, through the single log writer; the handler
waits for the report (run in FastAPI's thread pool, off the event loop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from workbench.gateway.admin._auth import Caller, source
from workbench.governance import datapolicy
from workbench.governance.erasure import erase
from workbench.governance.permissions import MANAGE_DATA, require
from workbench.governance.retention import apply_retention

router = APIRouter(prefix="/data", tags=["data"])


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyBody(_Body):
    """``PUT /data/policies/{workspace}``: the fields given are changed."""

    retention_days: int | None = Field(default=None, ge=1)
    bodies: Literal["full", "masked", "none"] | None = None


class RetentionBody(_Body):
    """``POST /data/retention``."""

    workspace: str | None = Field(default=None, min_length=1, max_length=200)


class ErasureBody(_Body):
    """``POST /data/erasure``: at least one of ``user`` and ``key_id``."""

    user: str | None = Field(default=None, min_length=1, max_length=500)
    key_id: str | None = Field(default=None, min_length=1, max_length=200)
    workspace: str | None = Field(default=None, min_length=1, max_length=200)


def _log_root(request: Request) -> Path | None:
    """The lake the gateway writes (its config's ``logging.dir``; None: the default)."""
    cfg = getattr(request.app.state, "workbench_config", None)
    folder = getattr(getattr(cfg, "logging", None), "dir", None)
    return Path(folder).expanduser().resolve() if folder else None


@router.get("/policies")
def list_policies(caller: Caller) -> dict[str, Any]:
    """The workspaces' data policies (an unlisted workspace: bodies full, kept forever)."""
    require(caller, MANAGE_DATA)
    found = [p for p in datapolicy.list_policies() if caller.can(MANAGE_DATA, p.workspace)]
    return {"object": "list", "data": [p.to_dict() for p in found]}


@router.put("/policies/{workspace}")
def put_policy(
    workspace: str, body: PolicyBody, caller: Caller, request: Request
) -> dict[str, Any]:
    """Change a workspace's retention and/or body policy (audited)."""
    changes = body.model_dump(exclude_unset=True)
    policy = datapolicy.set_policy(workspace, caller, source=source(request), **changes)
    return policy.to_dict()


@router.post("/retention")
def retention(body: RetentionBody, caller: Caller, request: Request) -> dict[str, Any]:
    """Apply the retention limits now (all workspaces, or one)."""
    return apply_retention(
        caller, workspace=body.workspace, source=source(request), root=_log_root(request)
    )


@router.post("/erasure")
def erasure(body: ErasureBody, caller: Caller, request: Request) -> dict[str, Any]:
    """Erase every log row of an end user and/or key (in one workspace when given)."""
    return erase(
        caller, user=body.user, key_id=body.key_id, workspace=body.workspace,
        source=source(request), root=_log_root(request),
    )  # fmt: skip
