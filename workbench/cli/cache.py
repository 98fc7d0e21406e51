"""``workbench cache``: the exact cache's entries on this node (stats, clear).

The gateway keeps cached answers in one SQLite file per node
(``$WORKBENCH_HOME/cache/entries.db``, shared by the node's ingress replicas); these
commands read and clear that file, also while the gateway runs. On a multi-node cluster
run them on each node. Clearing does not reach the semantic index: its stale neighbours
are never served (every semantic candidate is looked up in this store first).
"""

from __future__ import annotations

import click

from workbench.cli._common import WorkbenchGroup, dumps, format_table

_WORKSPACE = click.option(
    "--workspace", "-w", default=None, help="Only this workspace (default: all)."
)


@click.group(cls=WorkbenchGroup)
def cache() -> None:
    """Cached answers on this node: how many, how big, how often served; clear them."""


@cache.command("stats")
@_WORKSPACE
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def stats(workspace: str | None, as_json: bool) -> None:
    """Entries, bytes, hits, evictions and expirations (of one workspace or all)."""
    from workbench.cache.store import SqliteEntryStore, default_path

    if not default_path().exists():
        out = {"workspace": workspace, "path": str(default_path()), "entries": 0, "bytes": 0,
               "hits": 0, "hits_on_live_entries": 0, "evictions": 0, "expired": 0}  # fmt: skip
    else:
        store = SqliteEntryStore()
        try:
            out = store.stats_now(workspace)
        finally:
            store.close()
    if as_json:
        click.echo(dumps(out))
        return
    cols = ["workspace", "entries", "bytes", "hits", "evictions", "expired"]
    click.echo(format_table([{**out, "workspace": workspace or "(all)"}], cols))
    click.echo(f"store: {out['path']}")


@cache.command("clear")
@_WORKSPACE
def clear(workspace: str | None) -> None:
    """Delete the cached answers (of one workspace, or all of them)."""
    from workbench.cache.store import SqliteEntryStore, default_path

    if not default_path().exists():
        click.echo("removed 0 entries (no cache store yet)")
        return
    store = SqliteEntryStore()
    try:
        n = store.clear_now(workspace)
    finally:
        store.close()
    where = f" of workspace {workspace}" if workspace else ""
    click.echo(f"removed {n} entries{where}")
