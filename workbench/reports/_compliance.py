"""Everything the compliance report shows, gathered by one call (the notebook only lays it
out): :func:`collect` returns a :class:`ComplianceData`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._data import Period, anomalies_in_period, key_activity, policies_in_force, policy_events
from ._retention import retention_status

if TYPE_CHECKING:
    import polars as pl

RETENTION_NOTE = (
    "Each workspace's data policy sets how long its logged requests are kept and how their "
    "bodies are stored; the LogSink removes rows past the limit once a day (or now, with "
    "`workbench data retention apply`), and every run, erasure and policy change is in the "
    "audit trail. A workspace without a policy keeps everything. The lake figures are what "
    "it holds now."
)


@dataclass
class ComplianceData:
    """The report's sections (frames and plain dicts)."""

    period: Period
    workspaces: list[str]
    traffic: dict[str, int | float]
    violations: pl.DataFrame
    violating_requests: int
    pii: pl.DataFrame
    coverage: dict[str, Any]
    denied_total: int
    denied: pl.DataFrame
    flagged_total: int
    flagged: pl.DataFrame
    policies: list[dict[str, Any]]
    policy_events: list[dict[str, Any]]
    keys: pl.DataFrame
    lake: dict[str, Any]
    retention: dict[str, Any] = field(default_factory=dict)
    anomalies: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The summary table's figures (also written as JSON by the report)."""
        cov = self.coverage["coverage"]
        keys = self.keys
        return {
            "period": self.period.label(),
            "workspaces": ", ".join(self.workspaces) or "all",
            "requests": self.traffic["requests"],
            "requests with a failed guardrail check": self.violating_requests,
            "denied by a guardrail": self.denied_total,
            "flagged (not blocked)": self.flagged_total,
            "PII / secret incidents (requests)": self.coverage["flagged_requests"],
            "redaction coverage": "n/a" if cov is None else f"{cov:.1%}",
            "policy versions in force": len(self.policies),
            "policy changes": len(self.policy_events),
            "keys created": int(keys["created_in_period"].sum()) if keys.height else 0,
            "keys revoked": int(keys["revoked_in_period"].sum()) if keys.height else 0,
            "keys with traffic": int((keys["requests"] > 0).sum()) if keys.height else 0,
            "requests kept past a retention limit": self.retention.get("overdue", 0),
            "erasures": sum(op["what"] == "erasure" for op in self.retention.get("operations", [])),
            "anomalies": len(self.anomalies),
        }


def collect(
    since: Any = "7d",
    until: Any = None,
    workspaces: list[str] | None = None,
    max_examples: int = 10,
    log_root: Path | None = None,
    detect_anomalies: bool = True,
) -> ComplianceData:
    """Gather every section of the compliance report for the period and workspaces."""
    from workbench.logs import governance as gov
    from workbench.logs import rates

    period = Period.of(since, until)
    ws = list(workspaces or []) or None
    win: dict[str, Any] = {"since": period.since, "until": period.until, "workspace": ws}
    totals = rates(**win, root=log_root)
    traffic = {c: (totals[c][0] or 0) if totals.height else 0 for c in ("requests", "blocks")}
    denied_total, denied = gov.blocked_requests("denied", **win, limit=max_examples, root=log_root)
    flagged_total, flagged = gov.blocked_requests(
        "flagged", **win, limit=max_examples, root=log_root
    )
    return ComplianceData(
        period=period,
        workspaces=ws or [],
        traffic=traffic,
        violations=gov.violations(**win, root=log_root),
        violating_requests=gov.violating_requests(**win, root=log_root),
        pii=gov.pii_incidents(**win, root=log_root),
        coverage=gov.redaction_coverage(**win, root=log_root),
        denied_total=denied_total,
        denied=denied,
        flagged_total=flagged_total,
        flagged=flagged,
        policies=policies_in_force(period),
        policy_events=policy_events(period),
        keys=key_activity(period, ws, log_root=log_root),
        lake=gov.lake_status(log_root),
        retention=retention_status(period, ws, log_root),
        anomalies=anomalies_in_period(period, log_root) if detect_anomalies else [],
    )
