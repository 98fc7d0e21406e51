"""``workbench dashboard``: serve the Panel dashboard (every page; a dashboard key logs in)."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli._common import LOG_DIR_OPTION


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=8501, show_default=True)
@LOG_DIR_OPTION
@click.option(
    "--gateway-url",
    default=None,
    help="The running gateway's base URL (pages that talk to it, e.g. policy publish).",
)
def dashboard(host: str, port: int, log_dir: Path | None, gateway_url: str | None) -> None:
    """Serve the dashboard until Ctrl-C or SIGTERM.

    Log in with a key of role admin, policy-author or analyst
    (`workbench keys create -w WORKSPACE --role admin`); app keys cannot log in.
    """
    from workbench.dashboard import DashboardSettings, serve

    settings = DashboardSettings(host, port, log_dir, None, gateway_url)

    def ready(url: str) -> None:
        click.echo(f"Dashboard: {url} (log in with a dashboard key; Ctrl-C stops it)", err=True)

    serve(settings, on_ready=ready)
    click.echo("Dashboard stopped.", err=True)


__all__ = ["dashboard"]
