"""Right to erasure: delete every log row of an end user (the OpenAI ``user`` field) or of
an API key, optionally only in one workspace, and prove it in the audit log.

:func:`erase` checks ``data:manage`` and hands the job to the lake's single writer
(:mod:`workbench.governance.lakeops`): in this process when no gateway holds the lake,
else to the running gateway's LogSink, which performs it between flushes. The rows are
removed from the Parquet partitions (files rewritten, rollups recomputed:
:func:`workbench.logstore.rewrite.remove_rows`), from the spool (flushed into the lake
first, under the writer's lock, then rewritten with it) and from the dead-letter files.

The audit entry (``data.erase``) records the selector, the rows removed per partition and
the SHA-256 of every rewritten file before and after: never the erased data.

Requests still in flight when the erasure runs (in an ingress replica's shipping buffer,
or spooled while the partitions are rewritten) are not lost to it: a tombstone
registered with the writer before the rewrite drops every late record of the selector
that was received before the erasure (:mod:`workbench.logstore.tombstones`), for the
writer's de-duplication window; the entry's ``late_records_dropped_until`` says until
when.

Caches: the exact and semantic caches keep no user or key id (``user`` is not part of a
cache key and an entry is stored per workspace), so no cache entry can be attributed to
an end user; entries expire after their policy's ``ttl_s``, and ``workbench cache clear``
empties a workspace's entries when a full purge is wanted.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench.errors import PermissionDeniedError
from workbench.governance import audit
from workbench.governance.permissions import MANAGE_DATA, Principal, require

if TYPE_CHECKING:
    import pyarrow.compute as pc

    from workbench.logstore import LogWriter

__all__ = ["Selector", "erase", "erase_with_writer"]


@dataclass(frozen=True)
class Selector:
    """Whose rows: an end user, a key, or both (both must match), optionally in one
    workspace."""

    user: str | None = None
    key_id: str | None = None
    workspace: str | None = None

    def __post_init__(self) -> None:
        if not (self.user or self.key_id):
            raise ValueError("erasure needs a user or a key id")
        for name in ("user", "key_id", "workspace"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"{name} must be a non-empty string")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (what the audit entry names)."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def expression(self) -> pc.Expression:
        """The rows to remove, as a never-null Arrow expression."""
        import pyarrow.compute as pc

        expr: pc.Expression | None = None
        for column, value in (("user", self.user), ("key_id", self.key_id)):
            if value is not None:
                term = pc.field(column).is_valid() & (pc.field(column) == value)
                expr = term if expr is None else expr & term
        assert expr is not None
        if self.workspace is not None:
            ws = pc.field("workspace")
            expr = expr & ws.is_valid() & (ws == self.workspace)
        return expr

    def matches(self, record: dict[str, Any]) -> bool:
        """Whether a raw record (a dead letter's original) is one of the selected rows."""
        if self.user is not None and record.get("user") != self.user:
            return False
        if self.key_id is not None and record.get("key_id") != self.key_id:
            return False
        return self.workspace is None or record.get("workspace") == self.workspace


def erase_with_writer(
    writer: LogWriter, selector: Selector, *, actor: str, source: str | None = None
) -> dict[str, Any]:
    """Remove the selected rows through ``writer`` and record the proof; returns the
    summary (also the audit entry's ``after``)."""
    from workbench.logstore.rewrite import remove_rows

    # first: from now on, late copies (in flight, buffered, spooled during the rewrite)
    # of the selected rows are dropped on arrival
    tomb = writer.tombstones.add(selector.to_dict(), keep_s=writer.dedupe_window_s)
    report = remove_rows(writer, selector.expression(), selector.matches)
    summary = {
        "selector": selector.to_dict(),
        "late_records_dropped_until": tomb.expires_at,
        "rows_removed": report.rows_removed,
        "by_partition": report.by_partition(),
        "files": [asdict(f) for f in report.files],
        "deadletter_removed": report.deadletter_removed,
        "deadletter_files": [asdict(f) for f in report.deadletter_files],
        "files_scanned": report.files_scanned,
    }
    target = ",".join(f"{k}:{v}" for k, v in selector.to_dict().items())
    entry = audit.record(
        "data.erase",
        actor=actor,
        target=target,
        workspace=selector.workspace,
        before={"selector": selector.to_dict()},
        after=summary,
        source=source,
    )
    summary["audit_seq"] = entry.seq
    return summary


def erase(
    principal: Principal,
    *,
    user: str | None = None,
    key_id: str | None = None,
    workspace: str | None = None,
    source: str | None = None,
    root: Path | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Erase the rows of ``user`` and/or ``key_id`` (in ``workspace`` only, when given).

    Needs ``data:manage`` (in ``workspace``; a principal limited to some workspaces must
    name one). Runs through the lake's single writer, locally or in the gateway's LogSink.
    """
    selector = Selector(user=user, key_id=key_id, workspace=workspace)
    require(principal, MANAGE_DATA, workspace)
    if workspace is None and principal.workspaces is not None:
        raise PermissionDeniedError(
            f"{principal.actor} may erase only within its workspaces: name one",
            code="workspace_forbidden",
        )
    from workbench.governance.lakeops import run_op

    op: dict[str, Any] = {"op": "erase", "selector": selector.to_dict(), "actor": principal.actor}
    op["source"] = source or ("cli" if principal.actor.startswith("cli:") else None)
    return run_op(op, root=root, timeout_s=timeout_s)
