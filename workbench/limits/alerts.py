"""Soft budget thresholds: once per counter and window, a warning in the log and a
``budget.soft_threshold`` audit entry (written off the event loop; an alert never fails a
request). The response header is added by the limiter on every request past the mark."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from workbench.limits.rules import Rule

__all__ = ["Alerts"]

log = logging.getLogger("workbench.limits.client")


class Alerts:
    """Soft-threshold alerts: once per counter and window, a warning and an audit entry."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()
        self.raised: list[dict[str, Any]] = []

    def raise_once(self, rule: Rule, bucket: str, slot: int, frac: float) -> None:
        if (bucket, slot) in self.seen:
            return
        self.seen.add((bucket, slot))
        event = {"rule": rule.id, "subject": bucket.split("|", 1)[1], "used_fraction":
                 round(frac, 4), "soft": rule.soft, "limit_usd": rule.limit}  # fmt: skip
        self.raised.append(event)
        log.warning("budget %s passed its soft threshold: %s", rule.id, event)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        loop.run_in_executor(None, _audit_alert, rule, event)


def _audit_alert(rule: Rule, event: dict[str, Any]) -> None:
    try:
        from workbench.governance import audit

        workspace = rule.workspace
        if workspace is None and rule.scope == "workspace":
            workspace = event["subject"]
        audit.record("budget.soft_threshold", actor="gateway", target=f"budget:{rule.id}",
                     workspace=workspace, after=event, source="gateway")  # fmt: skip
    except Exception:  # an alert must never fail a request
        log.exception("could not audit the soft-threshold alert of %s", rule.id)
