"""Anomaly detection on the request log (``workbench.anomalies``).

Series per workspace, key and model (requests, spend, tokens per request, p95 latency
and time to first token, error, guardrail-block and cache-hit rates) at hourly or
minute resolution; a robust seasonal baseline (median of the same hour-of-week, or
statsmodels STL, or a rolling window while history is short) with a robust z, plus a
CUSUM drift detector for slow changes; minimum-volume, persistence and direction rules;
severities; an alerts table with acknowledge/mute; a watcher that posts Slack-compatible
webhooks with de-duplication and cool-down. ::

    from workbench import anomalies as an    # = workbench.analytics.anomalies
    for a in an.detect(since="7d"):
        print(a.describe())
    frame = an.series(since="14d")              # polars: level, entity, metric, ts, value, volume
    an.Watcher(an.WatchSettings(webhook_url=URL)).tick()
    an.acknowledge(12); an.mute(13, until=...)
    an.band("workspace", "acme", "requests", since=start)  # a series with its expected band
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ._band import band
from ._config import DetectorConfig
from ._detector import Anomaly, detect_frame
from ._evaluate import EventScore, score_events
from ._metrics import LEVELS, METRICS, Metric
from ._notify import post_webhook, resolve_webhook, slack_payload
from ._series import COLUMNS, floor_time, parse_duration, series, series_from
from ._simulate import KINDS, Event, Simulation, simulate
from ._store import Alert, AlertStore
from ._watcher import FAST_CONFIG, TickReport, Watcher, WatchSettings, watcher_for_gateway

__all__ = [
    "COLUMNS",
    "FAST_CONFIG",
    "KINDS",
    "LEVELS",
    "METRICS",
    "Alert",
    "AlertStore",
    "Anomaly",
    "DetectorConfig",
    "Event",
    "EventScore",
    "Metric",
    "Simulation",
    "TickReport",
    "WatchSettings",
    "Watcher",
    "acknowledge",
    "alerts",
    "band",
    "detect",
    "detect_frame",
    "mute",
    "post_webhook",
    "resolve_webhook",
    "score_events",
    "series",
    "series_from",
    "simulate",
    "slack_payload",
    "watcher_for_gateway",
]


def detect(
    since: str | timedelta | datetime = "7d",
    until: datetime | None = None,
    *,
    bucket: str | timedelta = "1h",
    history: str | timedelta = "28d",
    config: DetectorConfig | None = None,
    root: Path | None = None,
) -> list[Anomaly]:
    """Anomalies in the log between ``since`` and ``until`` (default now; complete
    buckets only), judged against baselines built from ``history`` before ``since``."""
    step = parse_duration(bucket)
    end = floor_time(until or datetime.now(UTC), step)
    start = since if isinstance(since, datetime) else end - parse_duration(since)
    frame = series(start - parse_duration(history), end, bucket=step, root=root)
    return detect_frame(frame, bucket=step, config=config, since=start)


def alerts(status: list[str] | None = None, limit: int = 100) -> list[Alert]:
    """Alerts in ``$WORKBENCH_HOME/anomalies/alerts.db``, newest first."""
    return AlertStore().list(status, limit)


def acknowledge(alert_id: int, note: str | None = None) -> Alert:
    """Acknowledge an alert (no more notifications; resolved when the series is quiet)."""
    return AlertStore().acknowledge(alert_id, note)


def mute(
    alert_id: int,
    until: datetime | None = None,
    *,
    for_: str | timedelta | None = None,
    note: str | None = None,
) -> Alert:
    """Mute an alert, optionally until a time (or ``for_`` a duration such as ``"8h"``)."""
    if for_ is not None:
        until = datetime.now(UTC) + parse_duration(for_)
    return AlertStore().mute(alert_id, until, note)
