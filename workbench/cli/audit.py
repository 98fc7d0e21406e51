"""``workbench audit``: read and verify the hash-chained audit log ($WORKBENCH_HOME/audit.sqlite).

``list`` prints entries (oldest first) with filters; ``verify`` recomputes the hash chain
and exits 1 naming the first broken entry when the log was tampered with.
"""

from __future__ import annotations

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table

__all__ = ["audit"]

_COLUMNS = ("seq", "ts", "actor", "action", "target", "workspace", "source")


@click.group(cls=WorkbenchGroup)
def audit() -> None:
    """The audit log of administrative actions (append-only, hash-chained)."""


@audit.command("list")
@click.option("--since", default=None, help="From this time (ISO, or a duration: 24h, 7d).")
@click.option("--until", default=None, help="Before this time (ISO, or a duration ago).")
@click.option("--actor", default=None, help="Only this actor (e.g. cli:alice, key:abc123).")
@click.option("--action", default=None, help="Only this action; a trailing * is a prefix.")
@click.option("--workspace", default=None, help="Only entries about this workspace.")
@click.option("--limit", type=int, default=None, help="Only the newest N entries.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (before/after included).")
def list_cmd(
    since: str | None,
    until: str | None,
    actor: str | None,
    action: str | None,
    workspace: str | None,
    limit: int | None,
    as_json: bool,
) -> None:
    """List audit entries, oldest first."""
    from workbench.governance import audit as log
    from workbench.governance.permissions import cli_principal

    found = log.read_entries(
        cli_principal(),
        workspace=workspace,
        since=since,
        until=until,
        actor=actor,
        action=action,
        limit=limit,
    )
    if as_json:
        click.echo(dumps([e.to_dict() for e in found], indent=2))
        return
    if not found:
        click.echo("No audit entries.")
        return
    rows = [{c: getattr(e, c) for c in _COLUMNS} for e in found]
    click.echo(format_table(rows, _COLUMNS))


@audit.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_cmd(as_json: bool) -> None:
    """Recompute the hash chain; exit 1 if any entry was edited, deleted, inserted or moved."""
    from workbench.governance import audit as log

    result = log.verify()
    if as_json:
        click.echo(dumps(result.to_dict()))
    elif result.ok:
        click.echo(f"OK: {result.checked} entries, hash chain intact.")
    else:
        click.echo(
            f"TAMPERED: the chain breaks at entry {result.first_bad_seq} ({result.reason}); "
            f"{result.checked} entries before it verify.",
            err=True,
        )
    if not result.ok:
        raise SystemExit(1)
