"""``workbench policy``: validate, publish, list, show, diff, roll back and audit policies.

Published versions live under ``$WORKBENCH_HOME/policies`` (see
:mod:`workbench.policy.store`). A VERSION_ID is ``<policy_id>@v<N>``; where a command takes
a policy id instead, it means that policy's live version. Errors (an invalid policy, an
unknown version) print one line and exit with code 2; ``validate`` prints every problem.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from workbench.cli._common import EXIT_USER_ERROR, WorkbenchGroup, dumps, format_table
from workbench.errors import ConfigError, NotFoundError

if TYPE_CHECKING:  # workbench.policy is imported by the commands that use it
    from workbench.policy import Policy, PolicyStore, Version

__all__ = ["policy"]

_LIVE_COLUMNS = ("policy_id", "version", "hash", "workspaces", "models", "author", "created_at")
_ALL_COLUMNS = ("version_id", "live", "hash", "author", "created_at", "message")
_AUDIT_COLUMNS = ("at", "event", "policy_id", "from", "to", "by", "message")


def _store() -> PolicyStore:
    from workbench.policy import PolicyStore

    return PolicyStore()


@click.group(cls=WorkbenchGroup)
def policy() -> None:
    """Author and publish guardrail policies ($WORKBENCH_HOME/policies)."""


def _running_config() -> str | None:
    """The config file of the gateway running from this home (None: none is running, or
    it runs on the embedded defaults)."""
    from workbench.cli.gateway import _alive, _read_state

    state = _read_state()
    if not state:
        return None
    pid = int(state.get("pid") or 0)
    if pid <= 0 or not _alive(pid):
        return None
    config = state.get("config")
    return str(config) if config else None


def _gateway_models() -> list[str] | None:
    """The model names routing targets must name: those of the running gateway's config
    when one runs from this home, else of $WORKBENCH_CONFIG or the embedded default; None
    (check skipped, with a note) if it cannot load."""
    from workbench.config.gateway import load_config

    try:
        return [m.name for m in load_config(_running_config()).models]
    except ConfigError as exc:
        click.echo(f"note: routing targets not checked (gateway config: {exc})", err=True)
        return None


def _policy_id(file: Path) -> str | None:
    """The id the policy in ``file`` declares (None when unreadable: publish reports it)."""
    from workbench.config._yamlsource import load_yaml_with_lines

    try:
        data, _ = load_yaml_with_lines(file)
    except ConfigError:
        return None
    return str(data.get("id")) if isinstance(data, dict) and data.get("id") else None


def _audit(
    store: PolicyStore,
    action: str,
    policy_id: str,
    before: str | None,
    after: str | None,
    message: str | None,
) -> None:
    """Record a publish / rollback / unpublish in the governance audit log (who, the
    policy, the live version and its content hash before and after)."""
    from workbench.governance import audit
    from workbench.governance.permissions import cli_principal

    def state(version_id: str | None) -> dict[str, str] | None:
        if version_id is None:
            return None
        return {"version": version_id, "hash": store.get(version_id).hash}

    audit.record(
        f"policy.{action}",
        actor=cli_principal().actor,
        target=f"policy:{policy_id}",
        before=state(before),
        after={"live": state(after), "message": message},
        source="cli",
    )


@policy.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate_cmd(files: tuple[Path, ...]) -> None:
    """Check policy FILES against the schema and the check catalogue."""
    from workbench.config._yamlsource import load_yaml_with_lines
    from workbench.policy import check_policy, policy_hash

    failed = 0
    for path in files:
        try:
            data, locate = load_yaml_with_lines(path)
        except ConfigError as exc:
            click.echo(f"error: {exc}", err=True)
            failed += 1
            continue
        parsed, errors = check_policy(
            data, path=str(path), locate=locate, known_targets=_gateway_models()
        )
        if errors:
            failed += 1
            for err in errors:
                click.echo(f"error: {err}", err=True)
            continue
        assert parsed is not None
        click.echo(f"OK {path}: policy {parsed.id!r}, sha256 {policy_hash(parsed)}")
    if failed:
        click.echo(f"{failed} of {len(files)} file(s) invalid.", err=True)
        raise SystemExit(EXIT_USER_ERROR)


@policy.command("publish")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--message", "-m", required=True, help="What changed and why (goes to the audit).")
@click.option("--author", default=None, help="Who publishes (default: $WORKBENCH_AUTHOR or user).")
def publish_cmd(file: Path, message: str, author: str | None) -> None:
    """Validate FILE, store it as a new version and make it live."""
    from workbench.policy.model import short_hash

    store = _store()
    declared = _policy_id(file)
    before = store.live_map().get(declared) if declared else None
    version = store.publish(file, message, author=author, known_targets=_gateway_models())
    if not version.already_live:
        _audit(store, "publish", version.policy.id, before, version.version_id, message)
    if version.already_live:
        click.echo(
            f"No change: {version.version_id} is already live with identical content "
            f"(sha256 {short_hash(version.hash)}); no new version was created."
        )
        return
    at = version.policy.applies_to
    click.echo(
        f"Published {version.version_id} (sha256 {short_hash(version.hash)}): live for "
        f"workspaces {', '.join(at.workspaces)}; models {', '.join(at.models)}."
    )


@policy.command("list")
@click.option("--all", "show_all", is_flag=True, help="Every stored version, not only live ones.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def list_cmd(show_all: bool, as_json: bool) -> None:
    """List the live policies (or, with --all, every version)."""
    from workbench.policy.model import short_hash

    store = _store()
    live_ids = set(store.live_map().values())
    versions = store.versions() if show_all else store.live()
    rows = [_row(v, v.version_id in live_ids) for v in versions]
    if as_json:
        click.echo(dumps(rows, indent=2))
        return
    if not rows:
        click.echo("No policy versions." if show_all else "No live policies.")
        return
    for row, version in zip(rows, versions, strict=True):
        row.update(
            hash=short_hash(version.hash),
            created_at=version.created_at,
            live="live" if row["live"] else "",
        )
    click.echo(format_table(rows, _ALL_COLUMNS if show_all else _LIVE_COLUMNS))


def _row(version: Version, live: bool) -> dict[str, object]:
    row: dict[str, object] = {**version.to_dict(), "version": f"v{version.number}", "live": live}
    if live:
        at = version.policy.applies_to
        row.update(workspaces=",".join(at.workspaces), models=",".join(at.models))
    return row


@policy.command("show")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print metadata and policy as JSON.")
def show_cmd(ref: str, as_json: bool) -> None:
    """Show REF: a version id (default@v2) or a policy id (its live version)."""
    store = _store()
    version = _version(store, ref)
    live = store.live_map().get(version.policy_id) == version.version_id
    if as_json:
        body = {**version.to_dict(), "live": live, "policy": version.policy.model_dump(mode="json")}
        click.echo(dumps(body, indent=2))
        return
    click.echo(f"# {version.version_id}{' (live)' if live else ''}")
    click.echo(f"# sha256 {version.hash}")
    click.echo(f"# by {version.author} at {version.to_dict()['created_at']}: {version.message}")
    if version.source:
        click.echo(f"# source {version.source}")
    click.echo(version.policy.canonical_yaml(), nl=False)


def _version(store: PolicyStore, ref: str) -> Version:
    if "@" in ref:
        return store.get(ref)
    live = store.live_version(ref)
    if live is not None:
        return live
    versions = store.versions(ref)
    if not versions:
        raise NotFoundError(f"no policy {ref!r} (and no version with that id)")
    click.echo(f"note: {ref!r} is not live; showing its latest version.", err=True)
    return versions[-1]


@policy.command("diff")
@click.argument("a")
@click.argument("b")
def diff_cmd(a: str, b: str) -> None:
    """Compare A and B: each a version id, a policy id (its live version) or a policy file."""
    from workbench.policy import diff

    store = _store()
    side_a, label_a = _side(store, a)
    side_b, label_b = _side(store, b)
    click.echo(diff(side_a, side_b, a_label=label_a, b_label=label_b), nl=False)


def _side(store: PolicyStore, ref: str) -> tuple[Version | Policy, str]:
    from workbench.policy import load_policy

    path = Path(ref)
    if path.is_file():
        return load_policy(path), ref
    version = _version(store, ref)
    return version, version.version_id


@policy.command("rollback")
@click.argument("policy_id")
@click.option("--to", "to", default=None, help="The version to make live (default: undo).")
@click.option("--message", "-m", default=None, help="Why (goes to the audit).")
@click.option("--author", default=None, help="Who (default: $WORKBENCH_AUTHOR or user).")
def rollback_cmd(policy_id: str, to: str | None, message: str | None, author: str | None) -> None:
    """Make an earlier version of POLICY_ID live again (default: undo the last change)."""
    store = _store()
    before = store.live_map().get(policy_id)
    version = store.rollback(policy_id, to, author=author, message=message)
    _audit(store, "rollback", policy_id, before, version.version_id, message)
    click.echo(f"Rolled back {policy_id!r}: {before or '(not live)'} -> {version.version_id}.")


@policy.command("unpublish")
@click.argument("policy_id")
@click.option("--message", "-m", default=None, help="Why (goes to the audit).")
@click.option("--author", default=None, help="Who (default: $WORKBENCH_AUTHOR or user).")
def unpublish_cmd(policy_id: str, message: str | None, author: str | None) -> None:
    """Take POLICY_ID out of service (its versions are kept; roll back to restore it)."""
    store = _store()
    version = store.unpublish(policy_id, author=author, message=message)
    _audit(store, "unpublish", policy_id, version.version_id, None, message)
    click.echo(f"Unpublished {policy_id!r} (was {version.version_id}).")


@policy.command("audit")
@click.option("--policy", "policy_id", default=None, help="Only this policy's events.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
def audit_cmd(policy_id: str | None, as_json: bool) -> None:
    """Show the publish / rollback / unpublish trail, oldest first."""
    events = _store().audit(policy_id)
    if as_json:
        click.echo(dumps([e.to_dict() for e in events], indent=2))
        return
    if not events:
        click.echo("No policy events.")
        return
    rows = [{**e.to_dict(), "at": e.at} for e in events]
    click.echo(format_table(rows, _AUDIT_COLUMNS))
