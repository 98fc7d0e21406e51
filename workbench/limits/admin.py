"""Managing budgets and rate limits: the functions the CLI and the admin REST API call.

Each checks ``limits:manage`` for the rule's workspace (a principal bound to some
workspaces may only manage rules confined to one of them), changes the limits file
(its generation bump reaches running gateways within about a second), and records an
audit entry after it succeeded.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

from workbench.errors import NotFoundError, PermissionDeniedError
from workbench.limits.rules import NANO, Rule
from workbench.limits.store import LimitsStore

__all__ = ["delete_rule", "list_rules", "parse_amount", "set_rule", "usage"]

BUDGET = ("budget",)
RATE = ("requests", "tokens", "concurrent")


def parse_amount(text: str | float) -> float:
    """``"$5"``, ``"5.00"``, ``5`` -> 5.0 (USD)."""
    if isinstance(text, int | float):
        return float(text)
    m = re.fullmatch(r"\s*\$?\s*([0-9]+(?:\.[0-9]+)?)\s*(?:usd)?\s*", text, re.IGNORECASE)
    if not m:
        raise ValueError(f"not an amount: {text!r} (write e.g. 5 or $5.00)")
    return float(m.group(1))


def _principal(principal: Any) -> Any:
    if principal is not None:
        return principal
    from workbench.governance.permissions import cli_principal

    return cli_principal()


def _require(principal: Any, workspace: str | None) -> None:
    from workbench.governance.permissions import MANAGE_LIMITS, require

    require(principal, MANAGE_LIMITS, workspace)
    if workspace is None and principal.workspaces is not None:
        raise PermissionDeniedError(
            f"{principal.actor} may only manage limits confined to its workspaces "
            "(set the rule's workspace)",
            code="permission_denied",
        )


def _audit(action: str, principal: Any, rule: Rule, before: Any, after: Any, source: Any) -> None:
    from workbench.governance import audit

    audit.record(action, actor=principal.actor, target=f"{rule.kind}:{rule.id}",
                 workspace=rule.workspace, before=before, after=after, source=source)  # fmt: skip


def _scoped(rule: Rule) -> Rule:
    if rule.scope == "workspace" and rule.subject != "*" and rule.workspace is None:
        return dataclasses.replace(rule, workspace=rule.subject)
    return rule


def set_rule(
    rule: Rule,
    *,
    principal: Any = None,
    source: str | None = None,
    store: LimitsStore | None = None,
) -> Rule:
    """Create or replace ``rule`` (a ``scope: workspace`` rule is confined to its workspace)."""
    principal = _principal(principal)
    rule = _scoped(rule)
    _require(principal, rule.workspace)
    store = store if store is not None else LimitsStore()
    old = store.get(rule.id)
    if old is not None:
        _require(principal, old.workspace)
    store.put(rule)
    action = f"{'budget' if rule.kind == 'budget' else 'limit'}.{'update' if old else 'create'}"
    _audit(action, principal, rule, old.to_dict() if old else None, rule.to_dict(), source)
    return rule


def delete_rule(
    rule_id: str,
    *,
    kinds: Iterable[str] | None = None,
    principal: Any = None,
    source: str | None = None,
    store: LimitsStore | None = None,
) -> Rule:
    """Delete a rule (and its counters); NotFoundError when there is none of ``kinds``."""
    principal = _principal(principal)
    store = store if store is not None else LimitsStore()
    old = store.get(rule_id)
    if old is None or (kinds is not None and old.kind not in set(kinds)):
        raise NotFoundError(f"no such rule: {rule_id!r}", param="id", code="rule_not_found")
    _require(principal, old.workspace)
    store.delete(rule_id)
    action = f"{'budget' if old.kind == 'budget' else 'limit'}.delete"
    _audit(action, principal, old, old.to_dict(), None, source)
    return old


def _visible(principal: Any, rule: Rule) -> bool:
    if principal.workspaces is None:
        return True
    return rule.workspace is not None and rule.workspace in principal.workspaces


def list_rules(
    *,
    kinds: Iterable[str] | None = None,
    workspace: str | None = None,
    principal: Any = None,
    store: LimitsStore | None = None,
) -> list[Rule]:
    """The rules of ``kinds`` the principal may see (``workspace``: confined to it)."""
    from workbench.governance.permissions import MANAGE_LIMITS, require

    principal = _principal(principal)
    require(principal, MANAGE_LIMITS, workspace)
    store = store if store is not None else LimitsStore()
    wanted = set(kinds) if kinds is not None else None
    return [
        r
        for r in store.rules()
        if (wanted is None or r.kind in wanted)
        and (workspace is None or r.workspace == workspace)
        and _visible(principal, r)
    ]


def usage(
    *,
    kinds: Iterable[str] | None = None,
    workspace: str | None = None,
    principal: Any = None,
    store: LimitsStore | None = None,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """Consumption per counter in its current window, from the authority's snapshot in
    the limits file (leases still outstanding count as spent; at most about a second
    old while a gateway runs). Concurrency gauges live only in the authority."""
    import time

    store = store if store is not None else LimitsStore()
    rules = {r.id: r for r in list_rules(kinds=kinds, workspace=workspace,
                                         principal=principal, store=store)}  # fmt: skip
    at = time.time() if now is None else now
    totals: dict[str, int] = {}
    for bucket, slot, amount in store.load_usage():
        rule = rules.get(bucket.split("|", 1)[0])
        if rule is None or rule.kind == "concurrent" or slot < rule.window_at(at).since:
            continue
        totals[bucket] = totals.get(bucket, 0) + amount
    out = []
    for bucket, used_units in sorted(totals.items()):
        rule = rules[bucket.split("|", 1)[0]]
        used = used_units / NANO if rule.kind == "budget" else used_units
        out.append({
            "rule": rule.id, "kind": rule.kind, "scope": rule.scope,
            "subject": bucket.split("|", 1)[1], "used": used, "limit": rule.limit,
            "remaining": max(0.0, rule.limit - used),
            "fraction": used / rule.limit if rule.limit else None,
            "soft": rule.soft, "reset_at": rule.window_at(at).reset_at,
        })  # fmt: skip
    return out


RULE_FIELDS = tuple(f.name for f in dataclasses.fields(Rule))
