"""``workbench keys``: create, list, show, update and revoke API keys.

Every command calls the governed key functions of :mod:`workbench.governance` (the same
ones the admin API ``/admin/v1/keys`` calls) as the local operator
(:func:`~workbench.governance.cli_principal`), so each change is audited.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table
from workbench.governance.permissions import GRANTABLE, ROLE_PERMISSIONS

_LIST_COLUMNS = (
    "key_id",
    "workspace",
    "name",
    "status",
    "role",
    "allowed_models",
    "grants",
    "created_at",
    "expires_at",
    "revoked_at",
    "member_id",
)
_ROLE_HELP = (
    "app: calls models only; analyst: reads logs and analytics of its workspace; "
    "policy-author: calls models, reads logs, writes policies in its workspace; "
    "admin: everything, every workspace."
)
_MODELS_HELP = "Models the key may call, comma-separated or repeated (default: all)."
_GRANT_HELP = (
    f"An extra permission on top of the role (repeatable): {', '.join(sorted(GRANTABLE))}."
)


def _models(values: tuple[str, ...]) -> list[str]:
    return [m.strip() for v in values for m in v.split(",") if m.strip()]


def _expiry(days: float | None) -> datetime | None:
    return None if days is None else datetime.now(UTC) + timedelta(days=days)


def _key_id(key_id: str) -> str:
    if key_id.startswith("wb-") and len(key_id) > 15:
        return key_id[3:15]  # a whole key was pasted: take its id, never echo the secret
    return key_id


def _rows(records: list[Any]) -> list[dict[str, Any]]:
    rows = []
    for r in records:
        row = r.to_dict()
        row.update(created_at=r.created_at, expires_at=r.expires_at, revoked_at=r.revoked_at)
        row.update(allowed_models=",".join(r.allowed_models) or "*", grants=",".join(r.grants))
        rows.append(row)
    return rows


@click.group(cls=WorkbenchGroup)
def keys() -> None:
    """Manage the gateway's API keys (stored in $WORKBENCH_HOME/keys.sqlite)."""


@keys.command("create")
@click.option("--workspace", "-w", required=True, help="Workspace the key belongs to.")
@click.option("--name", "-n", default=None, help="A label for the key.")
@click.option(
    "--expires-in-days",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Expire the key this many days from now (default: never).",
)
@click.option(
    "--role",
    type=click.Choice(list(ROLE_PERMISSIONS)),
    default="app",
    show_default=True,
    help=_ROLE_HELP,
)
@click.option("--models", "models", multiple=True, help=_MODELS_HELP)
@click.option("--grant", "grants", multiple=True, help=_GRANT_HELP)
@click.option(
    "--member",
    "member",
    default=None,
    help="The member (id or email) the key belongs to; it stays within their membership.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
def create_cmd(
    workspace: str,
    name: str | None,
    expires_in_days: float | None,
    role: str,
    models: tuple[str, ...],
    grants: tuple[str, ...],
    member: str | None,
    as_json: bool,
) -> None:
    """Create a key. The full key is printed once and is not stored anywhere."""
    from workbench.governance import cli_principal, create_key

    record, key = create_key(
        cli_principal(),
        workspace,
        name,
        role=role,
        allowed_models=_models(models),
        grants=grants,
        expires_at=_expiry(expires_in_days),
        member_id=member,
        source="cli",
    )
    warning = "Save this key now: it is shown only once and cannot be recovered."
    if as_json:
        click.echo(dumps({"key": key, **record.to_dict()}, indent=2))
        click.echo(f"warning: {warning}", err=True)
        return
    expiry = record.expires_at.isoformat(timespec="seconds") if record.expires_at else "never"
    label = f", name {record.name!r}" if record.name else ""
    allowed = ", ".join(record.allowed_models) or "all"
    click.echo(
        f"Created {record.role} key {record.key_id} for workspace {record.workspace!r}{label}, "
        f"models: {allowed}, expires: {expiry}.",
        err=True,
    )
    click.echo(key)
    click.secho(f"warning: {warning}", err=True, fg="yellow")


@keys.command("list")
@click.option("--workspace", "-w", default=None, help="Only this workspace's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_cmd(workspace: str | None, as_json: bool) -> None:
    """List keys (never their secrets), oldest first."""
    from workbench.governance import cli_principal, list_keys

    records = list_keys(cli_principal(), workspace)
    if as_json:
        click.echo(dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        click.echo("No keys." if workspace is None else f"No keys in workspace {workspace!r}.")
        return
    click.echo(format_table(_rows(records), _LIST_COLUMNS))


@keys.command("show")
@click.argument("key_id")
def show_cmd(key_id: str) -> None:
    """Show one key's record as JSON (never its secret)."""
    from workbench.governance import cli_principal, get_key

    click.echo(dumps(get_key(cli_principal(), _key_id(key_id)).to_dict(), indent=2))


@keys.command("update")
@click.argument("key_id")
@click.option("--role", type=click.Choice(list(ROLE_PERMISSIONS)), default=None, help=_ROLE_HELP)
@click.option("--models", "models", multiple=True, help="Replace the allowed models.")
@click.option("--all-models", is_flag=True, help="Allow every model again.")
@click.option("--grant", "grants", multiple=True, help="Replace the grants. " + _GRANT_HELP)
@click.option("--no-grants", is_flag=True, help="Remove every grant.")
@click.option(
    "--expires-in-days", type=click.FloatRange(min=0, min_open=True), default=None,
    help="Expire the key this many days from now.",
)  # fmt: skip
@click.option("--no-expiry", is_flag=True, help="Remove the expiry.")
@click.option("--name", "-n", default=None, help="A new label.")
@click.option(
    "--member", "member_id", default=None, help="Attach the key to this member (id or email)."
)
@click.option("--no-member", is_flag=True, help="Detach the key from its member.")
def update_cmd(
    key_id: str,
    role: str | None,
    models: tuple[str, ...],
    all_models: bool,
    grants: tuple[str, ...],
    no_grants: bool,
    expires_in_days: float | None,
    no_expiry: bool,
    name: str | None,
    member_id: str | None,
    no_member: bool,
) -> None:
    """Change a key's role, allowed models, grants, expiry, name or member (gateways see
    it ~1 s)."""
    from workbench.governance import cli_principal, update_key

    changes: dict[str, Any] = {}
    if role is not None:
        changes["role"] = role
    if models or all_models:
        changes["allowed_models"] = [] if all_models else _models(models)
    if grants or no_grants:
        changes["grants"] = [] if no_grants else list(grants)
    if expires_in_days is not None or no_expiry:
        changes["expires_at"] = None if no_expiry else _expiry(expires_in_days)
    if name is not None:
        changes["name"] = name
    if member_id is not None and no_member:
        raise click.UsageError("--member and --no-member exclude each other")
    if member_id is not None or no_member:
        changes["member_id"] = member_id
    if not changes:
        raise click.UsageError("nothing to change: give at least one option")
    record = update_key(cli_principal(), _key_id(key_id), source="cli", **changes)
    click.echo(dumps(record.to_dict(), indent=2))


@keys.command("revoke")
@click.argument("key_id")
def revoke_cmd(key_id: str) -> None:
    """Revoke the key KEY_ID (the part after 'wb-'). Gateways reject it within ~1 s."""
    from workbench.governance import cli_principal, revoke_key

    record, changed = revoke_key(cli_principal(), _key_id(key_id), source="cli")
    assert record.revoked_at is not None
    when = record.revoked_at.isoformat(timespec="seconds")
    if not changed:
        click.echo(f"Key {record.key_id} was already revoked at {when}.")
    else:
        click.echo(f"Revoked key {record.key_id} (workspace {record.workspace!r}) at {when}.")
