"""Retention: delete each workspace's log rows older than its ``retention_days``.

The per-workspace setting lives in :mod:`workbench.governance.datapolicy`. Applying it
removes, for every workspace with a limit, the rows whose ``received_at`` is older than
``now - retention_days`` (bodies go with their rows) from the Parquet partitions (files
rewritten, rollups recomputed), the spool (flushed into the lake first) and the dead
letters, through the lake's single writer (:mod:`workbench.governance.lakeops`). The
gateway's LogSink runs it daily (and on demand); ``workbench data retention apply`` or
:func:`apply_retention` runs it now. Each run that removed something, or was asked for,
is audited as ``data.retention.apply`` with the rows removed per partition and the
rewritten files' hashes.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.governance import audit
from workbench.governance.permissions import MANAGE_DATA, Principal, require

if TYPE_CHECKING:
    import pyarrow.compute as pc

    from workbench.logstore import LogWriter

__all__ = ["apply_retention", "cutoffs", "retention_with_writer"]


def cutoffs(
    now: datetime | None = None, workspace: str | None = None, *, path: Path | None = None
) -> dict[str, datetime]:
    """``{workspace: oldest received_at kept}`` for the workspaces with a retention limit."""
    from workbench.governance.datapolicy import list_policies

    now = now or datetime.now(UTC)
    return {
        p.workspace: now - timedelta(days=p.retention_days)
        for p in list_policies(path=path)
        if p.retention_days is not None and (workspace is None or p.workspace == workspace)
    }


def _expression(limits: dict[str, datetime]) -> pc.Expression:
    import pyarrow as pa
    import pyarrow.compute as pc

    ts = pa.timestamp("us", tz="UTC")
    ws, received = pc.field("workspace"), pc.field("received_at")
    expr: pc.Expression | None = None
    for name, cutoff in sorted(limits.items()):
        term = ws.is_valid() & (ws == name) & received.is_valid()
        term = term & (received < pa.scalar(cutoff, type=ts))
        expr = term if expr is None else expr | term
    assert expr is not None
    return expr


def _record_matcher(limits: dict[str, datetime]) -> Any:
    def old(record: dict[str, Any]) -> bool:
        cutoff = limits.get(str(record.get("workspace")))
        value = record.get("received_at")
        if cutoff is None or value is None:
            return False
        try:
            when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        except ValueError:
            return False
        when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
        return when < cutoff

    return old


def retention_with_writer(
    writer: LogWriter,
    *,
    actor: str,
    source: str | None = None,
    workspace: str | None = None,
    now: datetime | None = None,
    audit_empty: bool = True,
) -> dict[str, Any]:
    """Apply the retention limits through ``writer``; returns the summary (audited)."""
    from workbench.logstore.rewrite import remove_rows

    limits = cutoffs(now, workspace)
    summary: dict[str, Any] = {
        "cutoffs": {w: c.isoformat() for w, c in limits.items()},
        "rows_removed": 0,
    }
    if limits:
        newest = max(limits.values())

        def hours(date: str, hour: int) -> bool:
            start = datetime.strptime(date, "%Y-%m-%d").replace(hour=hour, tzinfo=UTC)
            return start < newest

        report = remove_rows(writer, _expression(limits), _record_matcher(limits), hours=hours)
        summary.update(
            rows_removed=report.rows_removed,
            by_partition=report.by_partition(),
            files=[asdict(f) for f in report.files],
            deadletter_removed=report.deadletter_removed,
            deadletter_files=[asdict(f) for f in report.deadletter_files],
        )
    if summary["rows_removed"] or summary.get("deadletter_removed") or audit_empty:
        entry = audit.record(
            "data.retention.apply",
            actor=actor,
            target=f"workspace:{workspace}" if workspace else "workspaces:all",
            workspace=workspace,
            after=summary,
            source=source,
        )
        summary["audit_seq"] = entry.seq
    return summary


def apply_retention(
    principal: Principal,
    *,
    workspace: str | None = None,
    source: str | None = None,
    root: Path | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Apply retention now (every workspace with a limit, or one); needs ``data:manage``."""
    require(principal, MANAGE_DATA, workspace)
    if workspace is None and principal.workspaces is not None:
        raise ValueError("name the workspace to apply retention to")
    from workbench.governance.lakeops import run_op

    op: dict[str, Any] = {"op": "retention", "workspace": workspace, "actor": principal.actor}
    op["source"] = source or ("cli" if principal.actor.startswith("cli:") else None)
    return run_op(op, root=root, timeout_s=timeout_s)
