"""What the policies page does, without Panel: validate YAML text, diff, replay preview,
publish, roll back, history.

Validation is ``workbench policy validate``'s: the YAML is parsed with line positions
(:func:`workbench.config._yamlsource.load_yaml_with_lines`) and checked with
:func:`workbench.policy.check_policy` against the check catalogue, with routing targets
checked against the running gateway's models (as the CLI does). Publishing and rollback go
through :class:`~workbench.policy.PolicyStore` like the CLI's; the running gateway picks
them up by polling the store's ``live_token`` (:mod:`workbench.gateway.policies`). Both
re-check ``publish_policy`` here, whatever the page's buttons show; the audit event's
``by`` names the dashboard principal.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from workbench.analytics.replay import ReplayResult
    from workbench.config.gateway import GatewayConfig
    from workbench.dashboard._context import DashboardContext
    from workbench.policy import AuditEvent, Policy, PolicyStore, Version

EDITOR_LABEL = "candidate.yaml"
"""The file name errors in the editor's text are reported against."""

REPLAY_SINCE = "24h"
REPLAY_LIMIT = 500
"""The replay preview's default window and row cap (the most recent rows in it)."""


class NotAllowed(PermissionError):
    """The logged-in principal lacks the permission an action needs."""


@dataclass(frozen=True)
class Problem:
    """One validation error: its line in the editor (None: not tied to one) and text."""

    line: int | None
    text: str


@dataclass
class Validation:
    """The result of validating the editor's text."""

    policy: Policy | None
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the text is a valid policy."""
        return self.policy is not None and not self.problems


def store_for(ctx: DashboardContext) -> PolicyStore:
    """The policy store of the dashboard's home."""
    from workbench.policy import PolicyStore

    return PolicyStore(ctx.home / "policies")


def actor(ctx: DashboardContext) -> str:
    """Who the audit trail names for this session: ``name (key id) via dashboard``."""
    p = ctx.principal
    who = f"{p.name} ({p.key_id})" if p.name else p.key_id
    return f"{who} via dashboard"


def require(ctx: DashboardContext, permission: Any) -> None:
    """Raise :class:`NotAllowed` unless the principal holds ``permission``."""
    if not ctx.can(permission):
        raise NotAllowed(
            f"{ctx.principal.key_id} ({ctx.principal.role}) may not {permission.replace('_', ' ')}"
        )


def gateway_config(ctx: DashboardContext) -> GatewayConfig:
    """The gateway config the CLI would check against: ``ctx.extra["gateway_config"]``
    when given (a config or a path), else that of the gateway running from this home,
    else ``$WORKBENCH_CONFIG`` or the packaged default."""
    from workbench.cli.policy import _running_config
    from workbench.config.gateway import GatewayConfig, load_config

    given = ctx.extra.get("gateway_config")
    if isinstance(given, GatewayConfig):
        return given
    if isinstance(given, str | Path):
        return load_config(given)
    return load_config(_running_config())


def known_targets(ctx: DashboardContext) -> tuple[list[str] | None, str | None]:
    """The model names routing targets must name, or ``(None, note)`` when the gateway
    config cannot load (the check is skipped, as the CLI does)."""
    from workbench.errors import ConfigError

    try:
        return [m.name for m in gateway_config(ctx).models], None
    except ConfigError as exc:
        return None, f"routing targets not checked (gateway config: {exc})"


def validate_text(
    text: str, known: list[str] | None = None, label: str = EDITOR_LABEL
) -> Validation:
    """Validate policy YAML ``text`` as ``workbench policy validate`` validates a file."""
    from workbench.config._yamlsource import load_yaml_with_lines
    from workbench.errors import ConfigError
    from workbench.policy import check_policy

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / label
        path.write_text(text, encoding="utf-8")
        try:
            data, locate = load_yaml_with_lines(path)
        except ConfigError as exc:
            return Validation(None, [Problem(exc.line, str(exc).replace(str(path), label))])
    policy, errors = check_policy(data, path=label, locate=locate, known_targets=known)
    return Validation(policy, [Problem(e.line, str(e)) for e in errors])


def base_version(store: PolicyStore, policy_id: str) -> Version | None:
    """What a candidate of ``policy_id`` is compared with: its live version, else its
    latest stored one (None: a new policy)."""
    live = store.live_version(policy_id)
    if live is not None:
        return live
    versions = store.versions(policy_id) if _has_dir(store, policy_id) else []
    return versions[-1] if versions else None


def _has_dir(store: PolicyStore, policy_id: str) -> bool:
    return (store.root / "versions" / policy_id).is_dir()


def diff_text(store: PolicyStore, candidate: Policy) -> str:
    """The diff (unified + summary) from the published version to ``candidate``."""
    from workbench.policy import diff

    base = base_version(store, candidate.id)
    if base is None:
        return f"{candidate.id!r} has no published version yet: publishing creates v1.\n"
    return diff(base, candidate, b_label=f"{candidate.id} (editor)")


def recent_rows(
    ctx: DashboardContext, since: Any = REPLAY_SINCE, limit: int = REPLAY_LIMIT
) -> pl.DataFrame:
    """The most recent ``limit`` logged rows of ``since`` in this session's scope."""
    from workbench import logs

    rel = logs.relation(since=since, workspace=list(ctx.workspaces or ()) or None, root=ctx.log_dir)
    return rel.order("received_at DESC, request_id").limit(int(limit)).pl()


@dataclass
class Preview:
    """A replay preview: the result and the logged rows it replayed (for snippets)."""

    result: ReplayResult
    rows: pl.DataFrame


def replay_preview(
    ctx: DashboardContext,
    candidate: Policy,
    since: Any = REPLAY_SINCE,
    limit: int = REPLAY_LIMIT,
) -> Preview:
    """``candidate`` replayed (in this process) over the most recent logged rows."""
    from workbench.analytics.replay import replay

    rows = recent_rows(ctx, since, limit)
    result = replay(
        rows, candidate, config=gateway_config(ctx), root=ctx.log_dir, progress=False, workers=1
    )
    return Preview(result, rows)


def cell_requests(result: ReplayResult, old: str, new: str, n: int = 20) -> list[str]:
    """Up to ``n`` request ids whose outcome went from ``old`` to ``new``."""
    return [r["request_id"] for r in result.rows if r["old"] == old and r["new"] == new][:n]


def snippets(
    ctx: DashboardContext, rows: pl.DataFrame, ids: list[str], size: int = 160
) -> dict[str, str | None]:
    """The start of the stored (masked) request text of each of ``ids`` (from the
    replayed ``rows``: no further read) for a principal with ``read_bodies``; None
    without it or where no body was stored."""
    import polars as pl

    if not ctx.can("read_bodies"):
        return dict.fromkeys(ids)
    cols = [c for c in ("request_body", "request_original") if c in rows.columns]
    found = rows.filter(pl.col("request_id").is_in(ids)).select(["request_id", *cols])
    bodies = {r["request_id"]: next((r[c] for c in cols if r[c]), None) for r in found.to_dicts()}
    return {rid: _snippet(bodies.get(rid), size) for rid in ids}


def _snippet(raw: str | None, size: int) -> str | None:
    import json

    if not raw:
        return None
    try:
        messages = json.loads(raw).get("messages") or []
        text = str(messages[-1].get("content")) if messages else raw
    except (ValueError, AttributeError, TypeError):
        text = raw
    return text if len(text) <= size else text[: size - 1] + "…"


def publish(ctx: DashboardContext, store: PolicyStore, text: str, message: str) -> Version:
    """Validate ``text`` and publish it with ``message`` as this session's principal."""
    from workbench.errors import ConfigError

    require(ctx, "publish_policy")
    if not message.strip():
        raise ValueError("a publish message is required (what changed and why)")
    known, _ = known_targets(ctx)
    checked = validate_text(text, known)
    if not checked.ok:
        more = len(checked.problems) - 1
        raise ConfigError(checked.problems[0].text + (f" (and {more} more)" if more else ""))
    assert checked.policy is not None
    return store.publish(checked.policy, message, author=actor(ctx), known_targets=known)


def rollback(
    ctx: DashboardContext, store: PolicyStore, policy_id: str, to: str | None, message: str
) -> Version:
    """Make version ``to`` of ``policy_id`` live again (None: undo its last change)."""
    require(ctx, "publish_policy")
    return store.rollback(policy_id, to, author=actor(ctx), message=message or None)


def history(store: PolicyStore, policy_id: str) -> tuple[list[Version], list[AuditEvent]]:
    """The stored versions (oldest first) and audit events of ``policy_id``."""
    versions = store.versions(policy_id) if _has_dir(store, policy_id) else []
    return versions, store.audit(policy_id)
