"""Per-workspace data policies: log retention (days) and how request/response bodies are kept.

Stored in ``$WORKBENCH_HOME/governance.sqlite`` (SQLite, WAL), table ``data_policies``:
one row per workspace that has a policy; a workspace without one keeps bodies ``full``
and its logs forever.

- ``retention_days``: rows of the workspace older than this many days are deleted from
  the lake by :func:`workbench.governance.retention.apply_retention` (the gateway's LogSink
  runs it daily; ``workbench data retention apply`` on demand).
- ``bodies``: ``full`` (bodies stored as the pipeline produced them, with its guardrail
  masking), ``masked`` (bodies stored with every string value in their JSON replaced by
  ``"[masked]"``: shape and keys kept, content gone) or ``none`` (no body stored). Applied
  when the request's record is built (:func:`apply_body_policy`, called by the recorder).

Changes go through :func:`set_policy`, which checks ``data:manage`` for the workspace and
records an audit entry with the policy before and after.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workbench._sqlite import connect
from workbench.governance import audit
from workbench.governance.permissions import MANAGE_DATA, Principal, require

__all__ = [
    "BODY_FIELDS",
    "BODY_MODES",
    "DataPolicy",
    "apply_body_policy",
    "body_mode",
    "get_policy",
    "governance_db",
    "list_policies",
    "set_policy",
]

BODY_MODES = ("full", "masked", "none")
MASK = "[masked]"
#: The record fields that hold request or response content.
BODY_FIELDS = ("request_body", "response_body", "request_original", "upstream_outputs")
_CACHE_TTL_S = 2.0
_SCHEMA = """
CREATE TABLE IF NOT EXISTS data_policies (
    workspace      TEXT PRIMARY KEY,
    retention_days INTEGER,
    bodies         TEXT NOT NULL DEFAULT 'full',
    updated_at     REAL NOT NULL
);
"""
_UNSET: Any = object()


@dataclass(frozen=True)
class DataPolicy:
    """A workspace's data policy (``retention_days`` None: keep forever)."""

    workspace: str
    retention_days: int | None = None
    bodies: str = "full"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def governance_db() -> Path:
    """``$WORKBENCH_HOME/governance.sqlite``."""
    from workbench.home import home

    return home() / "governance.sqlite"


def _connect(path: Path | None, timeout_s: float = 30.0) -> sqlite3.Connection:
    db = Path(path) if path is not None else governance_db()
    conn = connect(db, timeout_s=timeout_s, any_thread=False)
    conn.executescript(_SCHEMA)
    return conn


def _row(r: tuple[Any, ...]) -> DataPolicy:
    return DataPolicy(workspace=r[0], retention_days=r[1], bodies=r[2])


def get_policy(workspace: str, *, path: Path | None = None, timeout_s: float = 30.0) -> DataPolicy:
    """The policy of ``workspace`` (defaults when none is set)."""
    conn = _connect(path, timeout_s)
    try:
        r = conn.execute(
            "SELECT workspace, retention_days, bodies FROM data_policies WHERE workspace = ?",
            (workspace,),
        ).fetchone()
    finally:
        conn.close()
    return _row(r) if r else DataPolicy(workspace)


def list_policies(*, path: Path | None = None) -> list[DataPolicy]:
    """Every workspace that has a policy, by name."""
    conn = _connect(path)
    try:
        rows = conn.execute(
            "SELECT workspace, retention_days, bodies FROM data_policies ORDER BY workspace"
        ).fetchall()
    finally:
        conn.close()
    return [_row(r) for r in rows]


def _validate(retention_days: Any, bodies: Any) -> None:
    if retention_days is not _UNSET and retention_days is not None:
        if isinstance(retention_days, bool) or not isinstance(retention_days, int):
            raise ValueError(
                f"retention_days must be a whole number of days, not {retention_days!r}"
            )
        if retention_days < 1:
            raise ValueError(f"retention_days must be at least 1 (got {retention_days})")
    if bodies is not _UNSET and bodies not in BODY_MODES:
        raise ValueError(f"bodies must be one of {', '.join(BODY_MODES)} (got {bodies!r})")


def set_policy(
    workspace: str,
    principal: Principal,
    *,
    retention_days: int | None = _UNSET,
    bodies: str = _UNSET,
    source: str | None = None,
    path: Path | None = None,
) -> DataPolicy:
    """Change ``workspace``'s policy (only the arguments given); audited as
    ``data.policy.update``. ``retention_days=None`` removes the retention limit."""
    require(principal, MANAGE_DATA, workspace)
    _validate(retention_days, bodies)
    before = get_policy(workspace, path=path)
    after = DataPolicy(
        workspace,
        before.retention_days if retention_days is _UNSET else retention_days,
        before.bodies if bodies is _UNSET else bodies,
    )
    conn = _connect(path)
    try:
        conn.execute(
            "INSERT INTO data_policies (workspace, retention_days, bodies, updated_at) "
            "VALUES (?, ?, ?, ?) ON CONFLICT (workspace) DO UPDATE SET "
            "retention_days = excluded.retention_days, bodies = excluded.bodies, "
            "updated_at = excluded.updated_at",
            (workspace, after.retention_days, after.bodies, time.time()),
        )
    finally:
        conn.close()
    _cache.clear()
    audit.record(
        "data.policy.update",
        actor=principal.actor,
        target=f"workspace:{workspace}",
        workspace=workspace,
        before=before.to_dict(),
        after=after.to_dict(),
        source=source or _source(principal),
    )
    return after


def _source(principal: Principal) -> str | None:
    return "cli" if principal.actor.startswith("cli:") else None


_cache: dict[str, tuple[float, str]] = {}
_cache_lock = threading.Lock()


def body_mode(workspace: str | None) -> str:
    """The body mode of ``workspace`` for the hot path: cached for about 2 s per process
    (a change reaches running gateways within that); ``full`` when unreadable."""
    key = workspace or ""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(key)
    if hit is not None and now - hit[0] < _CACHE_TTL_S:
        return hit[1]
    try:
        # the request path: never wait long on a locked file (the last value stays)
        mode = get_policy(key, timeout_s=0.05).bodies if workspace else "full"
    except sqlite3.Error:
        mode = hit[1] if hit else "full"
    with _cache_lock:
        _cache[key] = (now, mode)
    return mode


def _mask(value: Any) -> Any:
    if isinstance(value, str):
        return MASK
    if isinstance(value, dict):
        return {k: _mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v) for v in value]
    return value


def _mask_body(body: str) -> str:
    try:
        return json.dumps(_mask(json.loads(body)), separators=(",", ":"))
    except ValueError:  # not JSON (e.g. SSE text): nothing of it is kept
        return MASK


def apply_body_policy(record: dict[str, Any], mode: str | None = None) -> dict[str, Any]:
    """Apply the body mode of the record's workspace (or ``mode``) to a log record, in
    place; returns it. ``none`` drops every body field (``bodies_stored`` false);
    ``masked`` keeps their JSON shape with every string replaced by ``"[masked]"``."""
    mode = mode or body_mode(record.get("workspace"))
    if mode == "full":
        return record
    if mode == "none":
        for name in BODY_FIELDS:
            record[name] = None
        record["bodies_stored"] = False
        record["request_masked"] = record["output_masked"] = None
        return record
    for name in BODY_FIELDS:
        body = record.get(name)
        if isinstance(body, str):
            record[name] = _mask_body(body)
    return record
