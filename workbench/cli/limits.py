"""``workbench limits``: requests/min, tokens/min and concurrent requests.

Same functions as ``/admin/v1/limits`` (:mod:`workbench.limits.admin`): permission-checked
as the local operator, audited, picked up by a running gateway within about a second.
"""

from __future__ import annotations

import click

from workbench.cli._common import WorkbenchGroup
from workbench.cli.budgets import (
    JSON_OPTION,
    SCOPE_OPTION,
    SUBJECT_OPTION,
    WORKSPACE_OPTION,
    show_rules,
    show_usage,
)

_KINDS = ("requests", "tokens", "concurrent")
_COLUMNS = ("id", "kind", "scope", "subject", "limit", "workspace")


@click.group(cls=WorkbenchGroup)
def limits() -> None:
    """Rate limits: requests/min and tokens/min (fixed UTC minutes), concurrent requests.

    A request over a limit gets 429 rate_limit_exceeded naming it, with Retry-After;
    answers carry OpenAI's x-ratelimit-* headers for the tightest limits.
    """


@limits.command("list")
@WORKSPACE_OPTION
@JSON_OPTION
def list_cmd(workspace: str | None, as_json: bool) -> None:
    """List rate limits."""
    from workbench.limits import list_rules

    show_rules(list_rules(kinds=_KINDS, workspace=workspace), as_json, _COLUMNS)


@limits.command("set")
@click.argument("rule_id")
@click.option("--kind", type=click.Choice(_KINDS), required=True)
@SCOPE_OPTION
@SUBJECT_OPTION
@click.option("--limit", "limit", type=click.IntRange(min=0), required=True)
@WORKSPACE_OPTION
def set_cmd(
    rule_id: str, kind: str, scope: str, subject: str, limit: int, workspace: str | None
) -> None:
    """Create or replace rate limit RULE_ID."""
    from workbench.limits import Rule, set_rule

    period = None if kind == "concurrent" else "minute"
    saved = set_rule(Rule(rule_id, kind, scope, subject, limit, period=period,
                          workspace=workspace))  # fmt: skip
    per = "at once" if kind == "concurrent" else "per minute"
    click.echo(f"limit {saved.id}: {limit} {kind} {per} for {saved.scope} {saved.subject}")


@limits.command("delete")
@click.argument("rule_id")
def delete_cmd(rule_id: str) -> None:
    """Delete rate limit RULE_ID."""
    from workbench.limits import delete_rule

    delete_rule(rule_id, kinds=_KINDS)
    click.echo(f"deleted limit {rule_id}")


@limits.command("status")
@WORKSPACE_OPTION
@JSON_OPTION
def status_cmd(workspace: str | None, as_json: bool) -> None:
    """Use of each requests/tokens counter in the current minute."""
    from workbench.limits import usage

    show_usage(usage(kinds=("requests", "tokens"), workspace=workspace), as_json)
