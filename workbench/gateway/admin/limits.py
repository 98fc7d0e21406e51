"""``/admin/v1/budgets`` and ``/admin/v1/limits``: budgets and rate limits over HTTP.

Thin handlers over :mod:`workbench.limits.admin` (the functions the CLI calls), which
check ``limits:manage`` for the rule's workspace and write the audit log.

=======  ====================================  =====================================
method   path (under ``/admin/v1``)            body / answer
=======  ====================================  =====================================
GET      ``/budgets[?workspace=]``             ``{"object": "list", "data": [rule]}``
PUT      ``/budgets/{id}``                     scope, subject, amount_usd, period, ...
DELETE   ``/budgets/{id}``                     the deleted rule
GET      ``/budgets/status[?workspace=]``      spend per counter in its window
GET      ``/limits[?workspace=]``              ``{"object": "list", "data": [rule]}``
PUT      ``/limits/{id}``                      kind, scope, subject, limit, workspace
DELETE   ``/limits/{id}``                      the deleted rule
GET      ``/limits/status[?workspace=]``       use per counter in the current minute
=======  ====================================  =====================================
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field

from workbench.gateway.admin._auth import Caller, source
from workbench.limits import Rule, delete_rule, list_rules, set_rule, usage

router = APIRouter(tags=["limits"])

_RATE = ("requests", "tokens", "concurrent")
Scope = Literal["key", "user", "workspace", "model"]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BudgetBody(_Body):
    """``PUT /budgets/{id}``."""

    scope: Scope
    subject: str = Field(min_length=1, max_length=200)
    amount_usd: float = Field(ge=0)
    period: Literal["day", "week", "month"] = "month"
    window: Literal["calendar", "rolling"] = "calendar"
    soft: float | None = Field(default=None, gt=0, le=1)
    hard: bool = True
    workspace: str | None = None


class LimitBody(_Body):
    """``PUT /limits/{id}``."""

    kind: Literal["requests", "tokens", "concurrent"]
    scope: Scope
    subject: str = Field(min_length=1, max_length=200)
    limit: int = Field(ge=0)
    workspace: str | None = None


def _listing(rules: list[Rule]) -> dict[str, Any]:
    return {"object": "list", "data": [r.to_dict() for r in rules]}


@router.get("/budgets")
def list_budgets(caller: Caller, workspace: str | None = None) -> dict[str, Any]:
    """Budgets the caller may manage."""
    return _listing(list_rules(kinds=("budget",), workspace=workspace, principal=caller))


@router.get("/budgets/status")
def budget_status(caller: Caller, workspace: str | None = None) -> dict[str, Any]:
    """Spend per budget counter in its current window."""
    rows = usage(kinds=("budget",), workspace=workspace, principal=caller)
    return {"object": "list", "data": rows}


@router.put("/budgets/{rule_id}")
def put_budget(rule_id: str, body: BudgetBody, caller: Caller, request: Request) -> dict[str, Any]:
    """Create or replace a budget."""
    rule = Rule(rule_id, "budget", body.scope, body.subject, body.amount_usd, period=body.period,
                window=body.window, soft=body.soft, hard=body.hard,
                workspace=body.workspace)  # fmt: skip
    return set_rule(rule, principal=caller, source=source(request)).to_dict()


@router.delete("/budgets/{rule_id}")
def delete_budget(rule_id: str, caller: Caller, request: Request) -> dict[str, Any]:
    """Delete a budget and its counters."""
    old = delete_rule(rule_id, kinds=("budget",), principal=caller, source=source(request))
    return {**old.to_dict(), "deleted": True}


@router.get("/limits")
def list_limits(caller: Caller, workspace: str | None = None) -> dict[str, Any]:
    """Rate limits the caller may manage."""
    return _listing(list_rules(kinds=_RATE, workspace=workspace, principal=caller))


@router.get("/limits/status")
def limit_status(caller: Caller, workspace: str | None = None) -> dict[str, Any]:
    """Use of each requests/tokens counter in the current minute."""
    rows = usage(kinds=("requests", "tokens"), workspace=workspace, principal=caller)
    return {"object": "list", "data": rows}


@router.put("/limits/{rule_id}")
def put_limit(rule_id: str, body: LimitBody, caller: Caller, request: Request) -> dict[str, Any]:
    """Create or replace a rate limit."""
    period = None if body.kind == "concurrent" else "minute"
    rule = Rule(rule_id, body.kind, body.scope, body.subject, body.limit, period=period,
                workspace=body.workspace)  # fmt: skip
    return set_rule(rule, principal=caller, source=source(request)).to_dict()


@router.delete("/limits/{rule_id}")
def delete_limit(rule_id: str, caller: Caller, request: Request) -> dict[str, Any]:
    """Delete a rate limit."""
    old = delete_rule(rule_id, kinds=_RATE, principal=caller, source=source(request))
    return {**old.to_dict(), "deleted": True}
