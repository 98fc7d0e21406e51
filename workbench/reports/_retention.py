"""The compliance report's retention section: each workspace's data policy (retention
limit and how bodies are stored), how many logged requests the lake still holds past a
workspace's limit (they go at the next retention pass, which the LogSink runs daily),
and the retention runs, erasures and data-policy changes of the period (audit trail)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ._data import Period

#: The audit actions the section lists, and the label each gets.
ACTIONS = {
    "data.retention.apply": "retention run",
    "data.erase": "erasure",
    "data.policy.update": "data policy change",
}


def data_policies(
    workspaces: list[str] | None,
    now: datetime | None = None,
    log_root: Path | None = None,
) -> list[dict[str, Any]]:
    """One row per workspace with a data policy (only ``workspaces`` when given): its
    retention limit, body mode, the cutoff now, and the logged requests older than it."""
    from workbench.governance.datapolicy import list_policies
    from workbench.logs import rates

    now = now or datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for p in list_policies():
        if workspaces and p.workspace not in workspaces:
            continue
        row: dict[str, Any] = {
            "workspace": p.workspace,
            "retention": "keep forever" if p.retention_days is None else f"{p.retention_days} days",
            "bodies": p.bodies,
            "cutoff": None,
            "requests past the limit": None,
        }
        if p.retention_days is not None:
            cutoff = now - timedelta(days=p.retention_days)
            past = rates(since="100000d", until=cutoff, workspace=[p.workspace], root=log_root)
            row["cutoff"] = f"{cutoff:%Y-%m-%d %H:%M} UTC"
            row["requests past the limit"] = int(past["requests"][0]) if past.height else 0
        rows.append(row)
    return rows


def lake_operations(period: Period, workspaces: list[str] | None) -> list[dict[str, Any]]:
    """Retention runs, erasures and data-policy changes audited in the period, oldest
    first (an entry without a workspace, e.g. a run over every workspace, is always kept)."""
    from workbench.governance import audit

    out: list[dict[str, Any]] = []
    for entry in audit.entries(since=period.since, until=period.until, action="data.*"):
        if entry.action not in ACTIONS:
            continue
        if workspaces and entry.workspace is not None and entry.workspace not in workspaces:
            continue
        after = entry.after if isinstance(entry.after, dict) else {}
        out.append(
            {
                "when": entry.ts,
                "what": ACTIONS[entry.action],
                "who": entry.actor,
                "workspace": entry.workspace or "all",
                "target": entry.target,
                "rows removed": after.get("rows_removed"),
                "audit seq": entry.seq,
            }
        )
    return out


def retention_status(
    period: Period, workspaces: list[str] | None, log_root: Path | None = None
) -> dict[str, Any]:
    """The section: ``policies`` (:func:`data_policies`), ``operations``
    (:func:`lake_operations`) and ``overdue`` (requests past a limit, all workspaces)."""
    policies = data_policies(workspaces, log_root=log_root)
    overdue = sum(int(p["requests past the limit"] or 0) for p in policies)
    return {
        "policies": policies,
        "operations": lake_operations(period, workspaces),
        "overdue": overdue,
    }
