"""The outcome of one request, read the same way from a logged row and a replayed record.

Kinds, most decisive first:

- ``error``: the request failed for another reason than a guardrail (upstream, limits);
- ``deny``: a guardrail refused it (input, output, a stream stopped mid-way, a policy
  retry that never passed); ``checks`` names the check;
- ``fallback``: the answer came from elsewhere than the first target tried: the policy's
  ``fallback`` action, or the router falling back (a failing target, an output check
  with ``on_guardrail_failure``);
- ``redact``: a redact/fix check rewrote input or output;
- ``flag``: only log-only hits (``flag`` actions, ``log_only`` checks);
- ``allow``: nothing fired.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

KINDS = ("allow", "flag", "redact", "fallback", "deny", "error")

_ACTION_KIND = {
    "deny": "deny",
    "retry": "deny",
    "redact": "redact",
    "fix": "redact",
    "fallback": "fallback",
    "flag": "flag",
    "none": "flag",  # a failed verdict with no action: a log-only check
}


def _loads(text: Any) -> list[Any]:
    if isinstance(text, list):
        return text
    if not isinstance(text, str) or not text:
        return []
    try:
        data = orjson.loads(text)
    except ValueError:
        return []
    return data if isinstance(data, list) else []


@dataclass
class Outcome:
    """What happened to one request."""

    kind: str
    failed: set[tuple[str, str]] = field(default_factory=set)  # (check, action kind)
    target: str | None = None
    routing_fallback: bool = False
    cost: float | None = None
    guard_ms: float = 0.0

    @property
    def checks(self) -> list[str]:
        """``check:kind`` of every check that fired, sorted."""
        return sorted(f"{c}:{k}" for c, k in self.failed)

    def of_kind(self, kind: str) -> set[str]:
        """The checks that fired with an action of this kind."""
        return {c for c, k in self.failed if k == kind}

    def same_as(self, other: Outcome) -> bool:
        """Same kind, same checks, same fallback target."""
        return (
            self.kind == other.kind
            and self.failed == other.failed
            and (self.kind != "fallback" or self.target == other.target)
        )


def _routing_fallback(attempts: list[Any]) -> bool:
    tried = [a for a in attempts if isinstance(a, dict) and a.get("status") != "skipped"]
    ok = [a for a in tried if a.get("status") == "ok"]
    if not tried or not ok:
        return False
    if any(a.get("reason") == "policy_fallback" for a in tried):
        return True
    return bool(ok[-1].get("target") != tried[0].get("target"))


def outcome_of(row: Mapping[str, Any]) -> Outcome:
    """Classify a log row or a record (both have the log schema's fields)."""
    failed: set[tuple[str, str]] = set()
    guard_ms = 0.0
    for v in _loads(row.get("guardrail_verdicts")):  # one pass (a replay reads two a row)
        if not isinstance(v, dict):
            continue
        guard_ms += float(v.get("latency_ms") or 0.0)
        if v.get("passed") is False:
            failed.add((str(v.get("check")), _ACTION_KIND.get(str(v.get("action")), "flag")))
    attempts = _loads(row.get("routing_attempts"))
    out = Outcome(
        kind="allow",
        failed=failed,
        target=row.get("target"),
        cost=row.get("cost_usd"),
        guard_ms=guard_ms,
    )
    status = row.get("status")
    kinds = {k for _, k in failed}
    if row.get("error_code") == "guardrail_denied":
        out.kind = "deny"
    elif status != "ok":
        out.kind = "error"
    elif "fallback" in kinds or _routing_fallback(attempts):
        out.kind = "fallback"
        out.routing_fallback = "fallback" not in kinds
    elif "redact" in kinds:
        out.kind = "redact"
    elif "flag" in kinds:
        out.kind = "flag"
    return out


def drivers(old: Outcome, new: Outcome) -> list[str]:
    """The checks that drove a change: those that fired differently, preferring the ones
    whose action is of the old or the new kind."""
    if old.same_as(new):
        return []
    changed = old.failed ^ new.failed
    relevant = {c for c, k in changed if k in (old.kind, new.kind)}
    if not relevant and old.kind != new.kind and "fallback" in (old.kind, new.kind):
        return ["routing"] if old.routing_fallback or new.routing_fallback else []
    return sorted(relevant or {c for c, _ in changed})


def cell(old: Outcome, new: Outcome) -> str | None:
    """The flip-matrix cell of a request (None: unchanged)."""
    if old.same_as(new):
        return None
    if old.kind == new.kind:
        return f"{old.kind} changed"
    return f"{old.kind}->{new.kind}"
