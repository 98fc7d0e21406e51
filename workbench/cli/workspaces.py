"""``workbench workspaces``: list, create, show, update and delete workspaces.

The same governed functions as the admin API ``/admin/v1/workspaces``
(:mod:`workbench.governance.workspaces`), run as the local operator; every change is
audited.
"""

from __future__ import annotations

import json
from typing import Any

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table

_COLUMNS = ("name", "display_name", "active_keys", "total_keys", "created_at", "updated_at")


def _settings(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--settings") from exc
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--settings")
    return value


@click.group(cls=WorkbenchGroup)
def workspaces() -> None:
    """Manage workspaces (the units keys, logs, cache and budgets are isolated by)."""


@workspaces.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_cmd(as_json: bool) -> None:
    """List workspaces with their key counts."""
    from workbench.governance import cli_principal, list_workspaces

    found = list_workspaces(cli_principal())
    if as_json:
        click.echo(dumps([w.to_dict() for w in found], indent=2))
    elif not found:
        click.echo("No workspaces.")
    else:
        click.echo(format_table([w.to_dict() for w in found], _COLUMNS))


@workspaces.command("create")
@click.argument("name")
@click.option("--display-name", default=None, help="A human-readable name.")
@click.option("--settings", default=None, help="Settings as a JSON object.")
def create_cmd(name: str, display_name: str | None, settings: str | None) -> None:
    """Create the workspace NAME (lowercase letters, digits, '-', '_')."""
    from workbench.governance import cli_principal, create_workspace

    created = create_workspace(
        cli_principal(), name, display_name=display_name, settings=_settings(settings),
        source="cli",
    )  # fmt: skip
    click.echo(f"Created workspace {created.name!r} ({created.display_name}).")


@workspaces.command("show")
@click.argument("name")
def show_cmd(name: str) -> None:
    """Show one workspace as JSON."""
    from workbench.governance import cli_principal, get_workspace

    click.echo(dumps(get_workspace(cli_principal(), name).to_dict(), indent=2))


@workspaces.command("update")
@click.argument("name")
@click.option("--display-name", default=None, help="A new display name.")
@click.option("--settings", default=None, help="Replace the settings (a JSON object).")
def update_cmd(name: str, display_name: str | None, settings: str | None) -> None:
    """Change a workspace's display name and/or settings."""
    from workbench.governance import cli_principal, update_workspace

    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if settings is not None:
        changes["settings"] = _settings(settings)
    if not changes:
        raise click.UsageError("nothing to change: give --display-name and/or --settings")
    updated = update_workspace(cli_principal(), name, source="cli", **changes)
    click.echo(dumps(updated.to_dict(), indent=2))


@workspaces.command("delete")
@click.argument("name")
def delete_cmd(name: str) -> None:
    """Delete a workspace that has no unrevoked keys."""
    from workbench.governance import cli_principal, delete_workspace

    delete_workspace(cli_principal(), name, source="cli")
    click.echo(f"Deleted workspace {name!r}.")
