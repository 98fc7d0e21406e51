"""``workbench budgets``: USD budgets per key, user, workspace or model.

The commands act as the local operator (:func:`~workbench.governance.permissions.cli_principal`)
and call the same functions as ``/admin/v1/budgets`` (:mod:`workbench.limits.admin`),
which record every change in the audit log. A running gateway picks a change up within
about a second.
"""

from __future__ import annotations

from typing import Any

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table

RULE_COLUMNS = ("id", "scope", "subject", "limit", "period", "window", "soft", "hard", "workspace")
USAGE_COLUMNS = ("rule", "scope", "subject", "used", "limit", "remaining", "fraction", "reset_at")
JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
SCOPE_OPTION = click.option(
    "--scope",
    type=click.Choice(["key", "user", "workspace", "model"]),
    required=True,
    help="What the rule counts per.",
)
SUBJECT_OPTION = click.option(
    "--subject",
    required=True,
    help="The key id, user, workspace or model; * gives each its own counter.",
)
WORKSPACE_OPTION = click.option(
    "--workspace", "-w", default=None, help="Only requests of this workspace (and its admins)."
)


def show_rules(rules: list[Any], as_json: bool, columns: tuple[str, ...]) -> None:
    """Print rules as a table or JSON."""
    rows = [r.to_dict() for r in rules]
    click.echo(dumps(rows, indent=2) if as_json else format_table(rows, columns))


def show_usage(rows: list[dict[str, Any]], as_json: bool) -> None:
    """Print usage rows as a table or JSON."""
    click.echo(dumps(rows, indent=2) if as_json else format_table(rows, USAGE_COLUMNS))


@click.group(cls=WorkbenchGroup)
def budgets() -> None:
    """USD budgets (day/week/month, calendar or rolling; soft alert, hard deny).

    Stored in $WORKBENCH_HOME/limits.sqlite. A hard budget refuses a request whose
    worst-case cost (max_tokens at the dearest target it may be routed to) no longer
    fits: 429 budget_exceeded naming the budget.
    """


@budgets.command("list")
@WORKSPACE_OPTION
@JSON_OPTION
def list_cmd(workspace: str | None, as_json: bool) -> None:
    """List budgets."""
    from workbench.limits import list_rules

    show_rules(list_rules(kinds=("budget",), workspace=workspace), as_json, RULE_COLUMNS)


@budgets.command("set")
@click.argument("rule_id")
@SCOPE_OPTION
@SUBJECT_OPTION
@click.option("--amount", required=True, help="USD, e.g. 5 or $5.00.")
@click.option("--period", type=click.Choice(["day", "week", "month"]), default="month")
@click.option("--rolling", is_flag=True, help="The last 24h/7d/30d instead of the calendar one.")
@click.option("--soft", type=float, default=None, help="Alert at this fraction, e.g. 0.8.")
@click.option("--soft-only", is_flag=True, help="Alert only; never deny.")
@WORKSPACE_OPTION
@JSON_OPTION
def set_cmd(
    rule_id: str,
    scope: str,
    subject: str,
    amount: str,
    period: str,
    rolling: bool,
    soft: float | None,
    soft_only: bool,
    workspace: str | None,
    as_json: bool,
) -> None:
    """Create or replace budget RULE_ID."""
    from workbench.limits import Rule, parse_amount, set_rule

    rule = Rule(rule_id, "budget", scope, subject, parse_amount(amount), period=period,
                window="rolling" if rolling else "calendar", soft=soft, hard=not soft_only,
                workspace=workspace)  # fmt: skip
    saved = set_rule(rule)
    if as_json:
        click.echo(dumps(saved.to_dict(), indent=2))
    else:
        click.echo(f"budget {saved.id}: ${saved.limit:g} per {saved.period} ({saved.window}) "
                   f"for {saved.scope} {saved.subject}")  # fmt: skip


@budgets.command("delete")
@click.argument("rule_id")
def delete_cmd(rule_id: str) -> None:
    """Delete budget RULE_ID (and its counters)."""
    from workbench.limits import delete_rule

    delete_rule(rule_id, kinds=("budget",))
    click.echo(f"deleted budget {rule_id}")


@budgets.command("status")
@WORKSPACE_OPTION
@JSON_OPTION
def status_cmd(workspace: str | None, as_json: bool) -> None:
    """Spend per budget counter in its current window."""
    from workbench.limits import usage

    show_usage(usage(kinds=("budget",), workspace=workspace), as_json)
