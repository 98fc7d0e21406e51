"""``workbench keys``: create, list and revoke API keys."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table

_LIST_COLUMNS = (
    "key_id",
    "workspace",
    "name",
    "status",
    "role",
    "created_at",
    "expires_at",
    "revoked_at",
)


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
    type=click.Choice(["app", "admin", "policy-author", "analyst"]),
    default="app",
    show_default=True,
    help="app: calls the gateway only; admin, policy-author, analyst: may also log in to "
    "the dashboard.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the key and its record as JSON.")
def create_cmd(
    workspace: str, name: str | None, expires_in_days: float | None, role: str, as_json: bool
) -> None:
    """Create a key. The full key is printed once and is not stored anywhere."""
    expires_at = None
    if expires_in_days is not None:
        expires_at = datetime.now(UTC) + timedelta(days=expires_in_days)
    from workbench.keys import KeyStore

    with KeyStore() as store:
        record, key = store.create(workspace, name, expires_at=expires_at, role=role)
    warning = "Save this key now: it is shown only once and cannot be recovered."
    if as_json:
        click.echo(dumps({"key": key, **record.to_dict()}, indent=2))
        click.echo(f"warning: {warning}", err=True)
        return
    expiry = record.expires_at.isoformat(timespec="seconds") if record.expires_at else "never"
    label = f", name {record.name!r}" if record.name else ""
    click.echo(
        f"Created {record.role} key {record.key_id} for workspace {record.workspace!r}{label}, "
        f"expires: {expiry}.",
        err=True,
    )
    click.echo(key)
    click.secho(f"warning: {warning}", err=True, fg="yellow")


@keys.command("list")
@click.option("--workspace", "-w", default=None, help="Only this workspace's keys.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_cmd(workspace: str | None, as_json: bool) -> None:
    """List keys (never their secrets), oldest first."""
    from workbench.keys import KeyStore

    with KeyStore() as store:
        records = store.list(workspace)
    if as_json:
        click.echo(dumps([r.to_dict() for r in records], indent=2))
        return
    if not records:
        click.echo("No keys." if workspace is None else f"No keys in workspace {workspace!r}.")
        return
    rows = []
    for r in records:
        row = r.to_dict()
        row.update(created_at=r.created_at, expires_at=r.expires_at, revoked_at=r.revoked_at)
        rows.append(row)
    click.echo(format_table(rows, _LIST_COLUMNS))


@keys.command("revoke")
@click.argument("key_id")
def revoke_cmd(key_id: str) -> None:
    """Revoke the key KEY_ID (the part after 'wb-'). Gateways reject it within ~1 s."""
    if key_id.startswith("wb-") and len(key_id) > 15:
        key_id = key_id[3:15]  # a whole key was pasted: take its id, never echo the secret
    from workbench.keys import KeyStore

    with KeyStore() as store:
        before = store.get(key_id)
        record = store.revoke(key_id)
    assert record.revoked_at is not None
    when = record.revoked_at.isoformat(timespec="seconds")
    if before.revoked:
        click.echo(f"Key {record.key_id} was already revoked at {when}.")
    else:
        click.echo(f"Revoked key {record.key_id} (workspace {record.workspace!r}) at {when}.")
