"""``workbench data``: per-workspace data policies (retention, bodies), retention, erasure.

Erasure and retention run through the request log's single writer: in this process when
no gateway is running from this home, else in the running gateway's LogSink (between its
flushes), which the command hands the job to and waits for. Every change is audited.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from workbench.cli._common import LOG_DIR_OPTION, WorkbenchGroup, dumps, format_table

__all__ = ["data"]


def _principal() -> Any:
    from workbench.governance.permissions import cli_principal

    return cli_principal()


@click.group(cls=WorkbenchGroup)
def data() -> None:
    """Data governance: retention, body storage and erasure of request logs."""


@data.group("policy", cls=WorkbenchGroup)
def policy_group() -> None:
    """Per-workspace data policies ($WORKBENCH_HOME/governance.sqlite)."""


@policy_group.command("show")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def policy_show(as_json: bool) -> None:
    """List the workspaces' data policies (unlisted workspaces: bodies full, kept forever)."""
    from workbench.governance.datapolicy import list_policies

    rows = [p.to_dict() for p in list_policies()]
    if as_json:
        click.echo(dumps(rows, indent=2))
    elif not rows:
        click.echo("No data policies (every workspace: bodies full, logs kept forever).")
    else:
        click.echo(format_table(rows, ("workspace", "retention_days", "bodies")))


@policy_group.command("set")
@click.argument("workspace")
@click.option("--retention-days", type=int, default=None, help="Delete rows older than N days.")
@click.option("--no-retention", is_flag=True, help="Keep this workspace's rows forever.")
@click.option(
    "--bodies",
    type=click.Choice(["full", "masked", "none"]),
    default=None,
    help="Store bodies in full, masked (strings replaced) or not at all.",
)
def policy_set(
    workspace: str, retention_days: int | None, no_retention: bool, bodies: str | None
) -> None:
    """Set WORKSPACE's retention and/or body policy (audited)."""
    from workbench.governance.datapolicy import set_policy

    kwargs: dict[str, Any] = {}
    if retention_days is not None and no_retention:
        raise click.UsageError("--retention-days and --no-retention exclude each other")
    if retention_days is not None or no_retention:
        kwargs["retention_days"] = None if no_retention else retention_days
    if bodies is not None:
        kwargs["bodies"] = bodies
    if not kwargs:
        raise click.UsageError(
            "nothing to change: give --retention-days, --no-retention or --bodies"
        )
    after = set_policy(workspace, _principal(), **kwargs)
    click.echo(
        f"{workspace}: retention "
        f"{after.retention_days if after.retention_days else 'none'} day(s), bodies {after.bodies}"
    )


@data.group("retention", cls=WorkbenchGroup)
def retention_group() -> None:
    """Apply the retention limits."""


@retention_group.command("apply")
@click.option("--workspace", default=None, help="Only this workspace.")
@LOG_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def retention_apply(workspace: str | None, log_dir: Path | None, as_json: bool) -> None:
    """Delete rows older than each workspace's retention limit, now."""
    from workbench.governance.retention import apply_retention

    summary = apply_retention(_principal(), workspace=workspace, root=log_dir)
    if as_json:
        click.echo(dumps(summary, indent=2))
        return
    click.echo(
        f"retention applied: {summary['rows_removed']} row(s) removed "
        f"({len(summary.get('files', []))} file(s) rewritten, "
        f"{summary.get('deadletter_removed', 0)} dead letter(s)); "
        f"audit entry {summary.get('audit_seq')}"
    )


@data.command("erase")
@click.option("--user", default=None, help="End-user id (the request's `user` field).")
@click.option("--key", "key_id", default=None, help="API key id.")
@click.option("--workspace", default=None, help="Only in this workspace.")
@LOG_DIR_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def erase_cmd(
    user: str | None, key_id: str | None, workspace: str | None, log_dir: Path | None, as_json: bool
) -> None:
    """Erase every log row of an end user or a key (right to erasure); audited with proof."""
    from workbench.governance.erasure import erase

    if not (user or key_id):
        raise click.UsageError("give --user or --key")
    summary = erase(_principal(), user=user, key_id=key_id, workspace=workspace, root=log_dir)
    if as_json:
        click.echo(dumps(summary, indent=2))
        return
    parts = summary["by_partition"]
    click.echo(
        f"erased {summary['rows_removed']} row(s) in {len(parts)} partition(s), "
        f"{summary['deadletter_removed']} dead letter(s); proof in audit entry "
        f"{summary['audit_seq']}"
    )
