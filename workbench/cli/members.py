"""``workbench members``: the organisation's people and their roles per workspace.

The same governed functions as the admin API ``/admin/v1/members``
(:mod:`workbench.governance.members`), run as the local operator; every change is
audited. A MEMBER argument is a member id (``mem_...``) or an email. Give a member a key
with ``workbench keys create --workspace W --role R --member MEMBER``.
"""

from __future__ import annotations

from typing import Any

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table
from workbench.governance.permissions import GRANTABLE, ROLE_PERMISSIONS

_COLUMNS = ("member_id", "email", "display_name", "status", "memberships", "created_at")


def _row(member: Any) -> dict[str, Any]:
    row = member.to_dict()
    row["memberships"] = ",".join(f"{m.workspace}:{m.role}" for m in member.memberships) or "-"
    return dict(row)


def _show(member: Any) -> None:
    click.echo(dumps(member.to_dict(), indent=2))


@click.group(cls=WorkbenchGroup)
def members() -> None:
    """Manage members: people, with one role per workspace (one organisation per home)."""


@members.command("add")
@click.argument("email")
@click.option("--name", "display_name", default=None, help="The member's display name.")
def add_cmd(email: str, display_name: str | None) -> None:
    """Add the person with EMAIL (unique, case-insensitively)."""
    from workbench.governance import cli_principal, create_member

    made = create_member(cli_principal(), email, display_name, source="cli")
    click.echo(f"Added member {made.member_id} <{made.email}>.")


@members.command("list")
@click.option("--workspace", "-w", default=None, help="Only this workspace's members.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_cmd(workspace: str | None, as_json: bool) -> None:
    """List members with their memberships (workspace:role)."""
    from workbench.governance import cli_principal, list_members

    found = list_members(cli_principal(), workspace)
    if as_json:
        click.echo(dumps([m.to_dict() for m in found], indent=2))
    elif not found:
        click.echo("No members.")
    else:
        click.echo(format_table([_row(m) for m in found], _COLUMNS))


@members.command("show")
@click.argument("member")
def show_cmd(member: str) -> None:
    """Show one member (id or email) as JSON."""
    from workbench.governance import cli_principal, get_member

    _show(get_member(cli_principal(), member))


@members.command("update")
@click.argument("member")
@click.option("--name", "display_name", default=None, help="A new display name.")
@click.option("--email", default=None, help="A new email address.")
def update_cmd(member: str, display_name: str | None, email: str | None) -> None:
    """Change a member's display name and/or email."""
    from workbench.governance import cli_principal, update_member

    changes: dict[str, Any] = {}
    if display_name is not None:
        changes["display_name"] = display_name
    if email is not None:
        changes["email"] = email
    if not changes:
        raise click.UsageError("nothing to change: give --name and/or --email")
    _show(update_member(cli_principal(), member, source="cli", **changes))


@members.command("disable")
@click.argument("member")
def disable_cmd(member: str) -> None:
    """Disable a member: every key of theirs is refused (within the gateway's ~1 s)."""
    from workbench.governance import cli_principal, disable_member

    done = disable_member(cli_principal(), member, source="cli")
    click.echo(f"Disabled member {done.member_id} <{done.email}>.")


@members.command("enable")
@click.argument("member")
def enable_cmd(member: str) -> None:
    """Enable a disabled member again."""
    from workbench.governance import cli_principal, enable_member

    done = enable_member(cli_principal(), member, source="cli")
    click.echo(f"Enabled member {done.member_id} <{done.email}>.")


@members.command("grant")
@click.argument("member")
@click.option("--workspace", "-w", required=True, help="The workspace (must exist).")
@click.option(
    "--role", type=click.Choice(list(ROLE_PERMISSIONS)), required=True, help="Their role there."
)
@click.option(
    "--grant",
    "grants",
    multiple=True,
    help=f"An extra permission in that workspace (repeatable): {', '.join(sorted(GRANTABLE))}.",
)
def grant_cmd(member: str, workspace: str, role: str, grants: tuple[str, ...]) -> None:
    """Give MEMBER a role in a workspace, or change it (a downgrade caps their keys)."""
    from workbench.governance import cli_principal, set_membership

    done = set_membership(cli_principal(), member, workspace, role, grants, source="cli")
    click.echo(f"Member {done.member_id} is {role} in workspace {workspace!r}.")


@members.command("revoke")
@click.argument("member")
@click.option("--workspace", "-w", required=True, help="The workspace to remove them from.")
def revoke_cmd(member: str, workspace: str) -> None:
    """Remove MEMBER from a workspace (their keys there are refused from then on)."""
    from workbench.governance import cli_principal, remove_membership

    done = remove_membership(cli_principal(), member, workspace, source="cli")
    click.echo(f"Member {done.member_id} is no longer in workspace {workspace!r}.")
