"""``workbench credentials``: provider API keys stored encrypted, bindings, master-key rekey.

Secrets are read from standard input (piped) or a hidden prompt, never from the command
line by default (argv is visible to every user in ``ps``); ``--secret-env VAR`` reads one
from an environment variable. No command prints a secret. The commands act as the local
operator (:func:`~workbench.governance.permissions.cli_principal`).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from workbench.cli._common import CliError, WorkbenchGroup, dumps, format_table

_COLUMNS = ("id", "name", "provider", "fingerprint", "generation", "created_at", "rotated_at")
_BINDING_COLUMNS = ("workspace", "target", "credential_id", "created_at")

JSON_OPTION = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
SECRET_ENV_OPTION = click.option(
    "--secret-env",
    default=None,
    metavar="VAR",
    help="Read the secret from this environment variable instead of stdin or a prompt.",
)


def _me() -> Any:
    from workbench.governance.permissions import cli_principal

    return cli_principal()


def _read_secret(secret_env: str | None) -> str:
    """The secret from ``$secret_env``, piped stdin, or a hidden prompt (never argv)."""
    if secret_env:
        value = os.environ.get(secret_env)
        if not value:
            raise CliError(f"environment variable {secret_env} is empty or unset")
        return value
    if not sys.stdin.isatty():
        return sys.stdin.readline().strip()
    return str(click.prompt("Secret", hide_input=True, confirmation_prompt=True))


def _show(record: Any, as_json: bool, verb: str) -> None:
    if as_json:
        click.echo(dumps(record.to_dict(), indent=2))
        return
    fp = f", fingerprint {record.fingerprint}" if record.fingerprint else ""
    click.echo(
        f"{verb} credential {record.id} ({record.provider}, name {record.name!r}{fp}, "
        f"generation {record.generation})."
    )


@click.group(cls=WorkbenchGroup)
def credentials() -> None:
    """Provider API keys, encrypted at rest in $WORKBENCH_HOME/credentials.sqlite.

    The master key comes from WORKBENCH_MASTER_KEY, WORKBENCH_MASTER_KEY_FILE, or
    $WORKBENCH_HOME/master.key (created on first use; in production supply it from a
    secret manager). Reference a credential from a model target with `credential: cred-...`.
    """


@credentials.command("add")
@click.option("--name", "-n", required=True, help="A label, e.g. openai-prod.")
@click.option("--provider", "-p", required=True, help="e.g. openai, anthropic, azure-openai.")
@SECRET_ENV_OPTION
@JSON_OPTION
def add_cmd(name: str, provider: str, secret_env: str | None, as_json: bool) -> None:
    """Store a secret (read from stdin or a hidden prompt) and print its id."""
    from workbench.governance import credentials as creds

    rec = creds.add(_me(), name=name, provider=provider, secret=_read_secret(secret_env))
    _show(rec, as_json, "Stored")


@credentials.command("list")
@click.option("--provider", "-p", default=None, help="Only this provider's credentials.")
@JSON_OPTION
def list_cmd(provider: str | None, as_json: bool) -> None:
    """List credentials (never their secrets)."""
    from workbench.governance import credentials as creds

    records = creds.list_credentials(_me(), provider)
    if as_json:
        click.echo(dumps([r.to_dict() for r in records], indent=2))
    elif not records:
        click.echo("No credentials.")
    else:
        click.echo(format_table([r.to_dict() for r in records], _COLUMNS))


@credentials.command("show")
@click.argument("cred_id")
@JSON_OPTION
def show_cmd(cred_id: str, as_json: bool) -> None:
    """Show one credential's record and its workspace bindings."""
    from workbench.governance import credentials as creds

    rec = creds.get(_me(), cred_id)
    bound = [b for b in creds.bindings(_me()) if b.credential_id == cred_id]
    if as_json:
        click.echo(dumps({**rec.to_dict(), "bindings": [b.to_dict() for b in bound]}, indent=2))
        return
    for key, value in rec.to_dict().items():
        click.echo(f"{key:12} {value if value is not None else '-'}")
    for b in bound:
        click.echo(f"{'bound':12} workspace {b.workspace!r} -> target {b.target}")


@credentials.command("rotate")
@click.argument("cred_id")
@SECRET_ENV_OPTION
@JSON_OPTION
def rotate_cmd(cred_id: str, secret_env: str | None, as_json: bool) -> None:
    """Replace the secret (stdin or prompt); gateways use it within about a second."""
    from workbench.governance import credentials as creds

    rec = creds.rotate(_me(), cred_id, _read_secret(secret_env))
    _show(rec, as_json, "Rotated")


@credentials.command("delete")
@click.argument("cred_id")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="WORKBENCH_CONFIG",
    default=None,
    help="Refuse if a target of this gateway config uses it. Env: WORKBENCH_CONFIG.",
)
def delete_cmd(cred_id: str, config_path: Path | None) -> None:
    """Delete a credential no workspace binding (or target of --config) uses."""
    from workbench.governance import credentials as creds

    config = None
    if config_path is not None:
        from workbench.config.gateway import load_config

        config = load_config(config_path)
    rec = creds.delete(_me(), cred_id, config=config)
    click.echo(f"Deleted credential {rec.id} ({rec.name!r}).")


@credentials.command("bind")
@click.argument("workspace")
@click.argument("target")
@click.argument("cred_id")
def bind_cmd(workspace: str, target: str, cred_id: str) -> None:
    """Make WORKSPACE's requests to TARGET use credential CRED_ID."""
    from workbench.governance import credentials as creds

    b = creds.bind(_me(), workspace, target, cred_id)
    click.echo(f"Workspace {b.workspace!r} now calls {b.target} with {b.credential_id}.")


@credentials.command("unbind")
@click.argument("workspace")
@click.argument("target")
def unbind_cmd(workspace: str, target: str) -> None:
    """Remove WORKSPACE's own credential for TARGET (the target's own key applies again)."""
    from workbench.governance import credentials as creds

    b = creds.unbind(_me(), workspace, target)
    click.echo(f"Removed {b.credential_id} from workspace {b.workspace!r} for {b.target}.")


@credentials.command("bindings")
@click.option("--workspace", "-w", default=None, help="Only this workspace's bindings.")
@JSON_OPTION
def bindings_cmd(workspace: str | None, as_json: bool) -> None:
    """List workspace bindings."""
    from workbench.governance import credentials as creds

    rows = [b.to_dict() for b in creds.bindings(_me(), workspace)]
    if as_json:
        click.echo(dumps(rows, indent=2))
    else:
        click.echo(format_table(rows, _BINDING_COLUMNS) if rows else "No bindings.")


@credentials.command("rekey")
@click.option(
    "--new-key",
    is_flag=True,
    help="Generate a fresh master key into the key file first (file-held keys only).",
)
def rekey_cmd(new_key: bool) -> None:
    """Re-encrypt every secret with the first master key (rotate the master key)."""
    from workbench.governance import credentials as creds

    n = creds.rekey(_me(), new_key=new_key)
    what = "a new master key" if new_key else "the first configured master key"
    click.echo(f"Re-encrypted {n} credential(s) with {what}.")


@credentials.command("new-master-key")
def new_master_key_cmd() -> None:
    """Print a fresh random master key (for WORKBENCH_MASTER_KEY or a key file)."""
    from workbench.governance._crypto import generate_key

    click.echo(generate_key())
