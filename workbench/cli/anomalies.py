"""``workbench anomalies``: detect anomalies in the request log, watch it, manage alerts.

``detect`` is a one-off look at the log (prints anomalies, writes nothing); ``watch``
evaluates the live log every N minutes, keeps the alerts table
(``$WORKBENCH_HOME/anomalies/alerts.db``) and posts new alerts to a webhook;
``list``, ``ack`` and ``mute`` manage that table.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from workbench.cli._common import (
    LOG_DIR_OPTION,
    WorkbenchGroup,
    dumps,
    format_table,
    log_root,
    remember_log_dir,
)

_ANOMALY_COLUMNS = (
    "start",
    "end",
    "severity",
    "series",
    "metric",
    "direction",
    "value",
    "expected",
    "z",
    "detector",
)
_ALERT_COLUMNS = (
    "id",
    "status",
    "severity",
    "series",
    "metric",
    "direction",
    "value",
    "expected",
    "start",
    "last_seen",
)

# Indirection so tests can end the watch loop.
_sleep = time.sleep


@click.group(cls=WorkbenchGroup)
@LOG_DIR_OPTION
@click.pass_context
def anomalies(ctx: click.Context, log_dir: Path | None) -> None:
    """Anomaly detection on the request log: detect, watch, list/ack/mute alerts."""
    remember_log_dir(ctx, log_dir)


@anomalies.command("detect")
@click.option("--since", default="7d", show_default=True, help="Look back this far (7d, 24h).")
@click.option("--bucket", default="1h", show_default=True, help="Resolution (1h, 5m).")
@click.option("--history", default="28d", show_default=True, help="Baseline history before it.")
@click.option(
    "--seasonal",
    type=click.Choice(["how", "stl", "none"]),
    default=None,
    help="Seasonal profile (default: the detector's, hour-of-week medians).",
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
@click.pass_context
def detect_cmd(
    ctx: click.Context, since: str, bucket: str, history: str, seasonal: str | None, as_json: bool
) -> None:
    """Print the anomalies of the last SINCE (writes nothing)."""
    from workbench.analytics import anomalies as an

    config = an.DetectorConfig()
    if seasonal:
        config = config.with_(seasonal=seasonal)
    found = an.detect(since, bucket=bucket, history=history, config=config, root=log_root(ctx))
    if as_json:
        for a in found:
            click.echo(dumps(a.to_dict()))
        return
    if not found:
        click.echo(f"no anomalies in the last {since}")
        return
    click.echo(format_table([a.to_dict() for a in found], _ANOMALY_COLUMNS))
    click.echo(f"{len(found)} anomalies")


@anomalies.command("watch")
@click.option("--every", default="5m", show_default=True, help="Time between evaluations.")
@click.option("--webhook-url", default=None, help="Slack-compatible webhook for new alerts.")
@click.option("--webhook-url-env", default=None, help="Read the webhook URL from this env var.")
@click.option("--webhook-url-file", default=None, help="Read the webhook URL from this file.")
@click.option(
    "--cooldown",
    default="1h",
    show_default=True,
    help="Do not post the same series+metric again within this time.",
)
@click.option(
    "--fast-bucket",
    default="5m",
    show_default=True,
    help="Resolution of the fast (minute) view; 'off' to disable.",
)
@click.option(
    "--ticks",
    type=click.IntRange(min=1),
    default=None,
    help="Stop after this many evaluations (default: run until interrupted).",
)
@click.pass_context
def watch_cmd(
    ctx: click.Context,
    every: str,
    webhook_url: str | None,
    webhook_url_env: str | None,
    webhook_url_file: str | None,
    cooldown: str,
    fast_bucket: str,
    ticks: int | None,
) -> None:
    """Evaluate the live log every N minutes, keep the alerts table, post new alerts."""
    from workbench.analytics import anomalies as an
    from workbench.analytics.anomalies._series import parse_duration

    settings = an.WatchSettings(
        every=parse_duration(every),
        webhook_url=an.resolve_webhook(webhook_url, webhook_url_env, webhook_url_file),
        cooldown=parse_duration(cooldown),
        fast_bucket=None if fast_bucket == "off" else parse_duration(fast_bucket),
    )
    watcher = an.Watcher(settings, root=log_root(ctx))
    done = 0
    try:
        while ticks is None or done < ticks:
            _report(watcher.tick())
            done += 1
            if ticks is None or done < ticks:
                _sleep(settings.every.total_seconds())
    except KeyboardInterrupt:
        click.echo("stopped")


def _report(r: Any) -> None:
    stamp = r.at.strftime("%Y-%m-%d %H:%M:%S")
    click.echo(
        f"{stamp} active {len(r.active)}, opened {len(r.opened)}, resolved {len(r.resolved)}, "
        f"posted {len(r.posted)}"
        + (f" (webhook: {r.post.error})" if r.post and r.post.error else "")
    )
    for alert in r.opened:
        click.echo("  " + alert.describe())


@anomalies.command("list")
@click.option(
    "--status",
    multiple=True,
    type=click.Choice(["open", "acknowledged", "muted", "resolved"]),
    help="Only these statuses (repeatable; default all).",
)
@click.option("-n", "--limit", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line.")
def list_cmd(status: tuple[str, ...], limit: int, as_json: bool) -> None:
    """List alerts, newest first."""
    from workbench.analytics import anomalies as an

    rows = an.alerts(list(status) or None, limit)
    if as_json:
        for a in rows:
            click.echo(dumps(a.to_dict()))
    elif rows:
        click.echo(format_table([a.to_dict() for a in rows], _ALERT_COLUMNS))
    else:
        click.echo("no alerts")


@anomalies.command("ack")
@click.argument("alert_id", type=int)
@click.option("--note", default=None, help="Who is on it, or why.")
def ack_cmd(alert_id: int, note: str | None) -> None:
    """Acknowledge an alert (no more notifications)."""
    from workbench.analytics import anomalies as an

    click.echo(an.acknowledge(alert_id, note).describe())


@anomalies.command("mute")
@click.argument("alert_id", type=int)
@click.option("--for", "for_", default=None, help="Keep its series+metric quiet this long (8h).")
@click.option("--note", default=None, help="Why.")
def mute_cmd(alert_id: int, for_: str | None, note: str | None) -> None:
    """Mute an alert (and, with --for, its series+metric until then)."""
    from workbench.analytics import anomalies as an

    alert = an.mute(alert_id, for_=for_, note=note)
    click.echo(alert.describe())
    if alert.muted_until is not None:
        until = alert.muted_until.astimezone(UTC)
        click.echo(f"muted until {until:%Y-%m-%d %H:%M} UTC ({_ago(until)})")


def _ago(when: datetime) -> str:
    secs = (when - datetime.now(UTC)).total_seconds()
    return f"in {secs / 3600:.1f}h" if secs >= 0 else f"{-secs / 3600:.1f}h ago"
