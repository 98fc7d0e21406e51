"""The log explorer's queries: filter state, scoped pages and one request's detail.

No Panel here: the page (:mod:`workbench.dashboard.pages.explorer`) renders what these
functions return, and tests call them directly. Every read goes through
:mod:`workbench.logs` (rollup-counted pages, one record by id), scoped to the session's
workspaces; bodies are returned only to a principal holding ``read_bodies`` and are the
stored (already masked) text, never unmasked.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.dashboard._context import DashboardContext
    from workbench.logs import Page

PAGE_SIZE = 50
"""Rows per explorer page."""

VERDICT_COLUMNS = ("check", "stage", "action", "passed", "score", "spans", "message")
TIMING_COLUMNS = (
    "received_at",
    "first_byte_at",
    "done_at",
    "latency_ms",
    "ttft_ms",
    "gateway_overhead_ms",
    "upstream_ms",
    "queue_wait_ms",
)
IDENTITY_COLUMNS = (
    "request_id",
    "workspace",
    "key_id",
    "user",
    "endpoint",
    "model_requested",
    "model_served",
    "provider",
    "target",
    "status",
    "http_status",
    "error_code",
    "error_message",
    "policy_id",
    "policy_hash",
    "cache_status",
)
COST_COLUMNS = ("prompt_tokens", "completion_tokens", "total_tokens", "cost_usd")
BODY_COLUMNS = ("request_body", "response_body", "request_original", "upstream_outputs")


class ScopeError(PermissionError):
    """A filter or record outside the session's workspaces."""


@dataclass(frozen=True)
class ExplorerFilters:
    """What the explorer's filter bar holds (``None``/empty: no filter)."""

    since: Any = "24h"
    until: Any = None
    workspace: str | None = None
    model: str | None = None
    status: str | None = None
    check: str | None = None
    text: str | None = None
    order: str = "desc"


def scoped_workspace(ctx: DashboardContext, chosen: str | None) -> str | list[str] | None:
    """The workspace filter a query may use: an admin's choice (None: all); everyone
    else is held to their own workspaces (choosing another raises :class:`ScopeError`)."""
    allowed = ctx.workspaces
    if allowed is None:
        return chosen or None
    if chosen and chosen not in allowed:
        raise ScopeError(f"workspace {chosen!r} is outside this session's scope")
    return chosen or list(allowed)


def fetch_page(
    ctx: DashboardContext, filters: ExplorerFilters, page_number: int = 1, size: int = PAGE_SIZE
) -> Page:
    """Page ``page_number`` (1-based) of the rows matching ``filters``, in this session's
    scope, through :func:`workbench.logs.page` (only that page is read into memory)."""
    from workbench import logs

    if page_number < 1:
        raise ValueError("page numbers start at 1")
    return logs.page(
        since=filters.since or None,
        until=filters.until or None,
        workspace=scoped_workspace(ctx, filters.workspace),
        model=filters.model or None,
        status=filters.status or None,
        text=(filters.text or "").strip() or None,
        check=(filters.check or "").strip() or None,
        offset=(page_number - 1) * size,
        limit=size,
        order=filters.order,
        root=ctx.log_dir,
    )


def page_count(page: Page) -> int:
    """How many pages ``page.total`` rows fill (at least 1)."""
    return max(1, -(-page.total // page.limit))


def choices(ctx: DashboardContext, since: str = "7d") -> dict[str, list[str]]:
    """Options for the filter bar: the workspaces and models seen in ``since`` (from the
    rollups, in scope) and the check names of the live policies."""
    from workbench.dashboard import _data

    log_dir, scope = str(ctx.log_dir), ctx.workspaces
    by_ws = _data.spend(log_dir, scope, since, ("workspace",))  # cached (pn.cache)
    by_model = _data.spend(log_dir, scope, since, ("model_served",))
    return {
        "workspace": sorted(str(w) for w in by_ws["workspace"].drop_nulls().unique()),
        "model": sorted(str(m) for m in by_model["model_served"].drop_nulls().unique()),
        "check": live_check_names(ctx),
    }


def live_check_names(ctx: DashboardContext) -> list[str]:
    """The check names of the live policies (for the check filter's suggestions)."""
    from workbench.policy import STAGES, PolicyStore

    names: set[str] = set()
    for version in PolicyStore(ctx.home / "policies").live():
        for stage in STAGES:
            names.update(c.name for c in version.policy.checks(stage))
    return sorted(names)


@dataclass
class RequestDetail:
    """One request as the explorer's detail panel shows it."""

    request_id: str
    identity: dict[str, Any]
    timings: dict[str, Any]
    cost: dict[str, Any]
    verdicts: list[dict[str, Any]]
    attempts: list[dict[str, Any]]
    bodies: dict[str, str | None] | None
    bodies_note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _json_list(text: Any) -> list[dict[str, Any]]:
    if not text:
        return []
    try:
        value = json.loads(text) if isinstance(text, str) else text
    except ValueError:
        return [{"unparsed": str(text)}]
    return [v if isinstance(v, dict) else {"value": v} for v in value or []]


def _verdict_row(v: dict[str, Any]) -> dict[str, Any]:
    row = {c: v.get(c) for c in VERDICT_COLUMNS}
    spans = v.get("spans") or []
    row["spans"] = ", ".join(
        f"{s.get('start')}-{s.get('end')}" + (f" {s['reason']}" if s.get("reason") else "")
        for s in spans
        if isinstance(s, dict)
    )
    return row


_LOOKBACKS = ("1h", "24h", "7d", None)
"""Where a lookup without a time looks, in turn (most links point at recent requests)."""


def _find(ctx: DashboardContext, request_id: str, since: Any, until: Any) -> dict[str, Any] | None:
    from workbench import logs

    if since is not None or until is not None:
        return logs.get(request_id, since=since, until=until, root=ctx.log_dir)
    for back in _LOOKBACKS:
        row = logs.get(request_id, since=back, root=ctx.log_dir)
        if row is not None:
            return row
    return None


def request_detail(
    ctx: DashboardContext, request_id: str, since: Any = None, until: Any = None
) -> RequestDetail | None:
    """The detail of ``request_id`` (None when there is no such record in this session's
    scope). Bodies only with ``read_bodies``; otherwise ``bodies`` is None with a note."""
    row = _find(ctx, request_id, since, until)
    if row is None:
        return None
    if ctx.workspaces is not None and row.get("workspace") not in ctx.workspaces:
        return None
    bodies: dict[str, str | None] | None = None
    note: str | None = None
    if ctx.can("read_bodies"):
        bodies = {c: row.get(c) for c in BODY_COLUMNS}
        if not row.get("bodies_stored") and not any(bodies.values()):
            note = "No bodies were stored for this request (the policy's logging settings)."
    else:
        note = "Bodies are hidden: your role does not have the read_bodies permission."
    return RequestDetail(
        request_id=request_id,
        identity={c: row.get(c) for c in IDENTITY_COLUMNS},
        timings={c: row.get(c) for c in TIMING_COLUMNS},
        cost={c: row.get(c) for c in COST_COLUMNS},
        verdicts=[_verdict_row(v) for v in _json_list(row.get("guardrail_verdicts"))],
        attempts=_json_list(row.get("routing_attempts")),
        bodies=bodies,
        bodies_note=note,
        extra={"tags": row.get("tags"), "attempt_count": row.get("attempt_count")},
    )
