"""The live watcher: every N minutes, detect on the log, keep the alerts table, notify.

A tick reads two views of the live log: hourly series over the last four weeks (the
seasonal detector; complete hours only) and, for fast reactions, series at the tick's
own resolution (default 5 minutes) over the last day with a short rolling baseline.
An anomaly is *active* when its series alerted in its last ``merge_gap`` complete
buckets. Active anomalies open or update alerts (one per series and metric); alerts of
series no longer active are resolved. New alerts are posted to the webhook in one
Slack-compatible message; a new alert of a series and metric posted less than
``cooldown`` ago is recorded but not posted again, and a failed post is retried on the
next tick. Acknowledged and muted alerts are never posted.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from workbench._sync import run_blocking

from ._config import DetectorConfig
from ._detector import Anomaly, detect_frame
from ._notify import PostResult, post_webhook, slack_payload
from ._series import floor_time, series
from ._store import Alert, AlertStore

log = logging.getLogger(__name__)

FAST_CONFIG = DetectorConfig(
    level_window=timedelta(hours=2),
    rate_window=timedelta(hours=3),
    drift_window=timedelta(hours=6),
    dispersion_window=timedelta(hours=12),
    seasonal="none",
)
"""Detector settings of the minute-resolution view (short rolling baselines)."""


@dataclass(frozen=True)
class WatchSettings:
    """What the watcher reads, how it judges, where it posts."""

    every: timedelta = timedelta(minutes=5)
    history: timedelta = timedelta(days=28)
    fast_bucket: timedelta | None = timedelta(minutes=5)
    fast_history: timedelta = timedelta(days=1)
    webhook_url: str | None = None
    cooldown: timedelta = timedelta(hours=1)
    timeout_s: float = 5.0
    config: DetectorConfig = field(default_factory=DetectorConfig)
    fast_config: DetectorConfig = FAST_CONFIG


@dataclass
class TickReport:
    """What one tick did."""

    at: datetime
    active: list[Anomaly]
    opened: list[Alert]
    resolved: list[Alert]
    posted: list[int]
    post: PostResult | None = None


def _active(found: list[Anomaly], until: datetime, bucket: timedelta, gap: int) -> list[Anomaly]:
    return [a for a in found if a.end >= until - bucket * gap]


class Watcher:
    """Evaluates the live log every ``settings.every`` (see the module docstring)."""

    def __init__(
        self,
        settings: WatchSettings | None = None,
        *,
        store: AlertStore | None = None,
        root: Path | None = None,
    ) -> None:
        self.settings = settings or WatchSettings()
        self.store = store or AlertStore()
        self.root = root
        self.last: TickReport | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def detect_active(self, now: datetime) -> list[Anomaly]:
        """Anomalies active at ``now`` (blocking: DuckDB reads), one per series+metric."""
        s = self.settings
        hour = timedelta(hours=1)
        until = floor_time(now, hour)
        frame = series(until - s.history, until, bucket=hour, root=self.root)
        found = _active(
            detect_frame(frame, bucket=hour, config=s.config), until, hour, s.config.merge_gap
        )
        if s.fast_bucket is not None:
            fast_until = floor_time(now, s.fast_bucket)
            fast = series(
                fast_until - s.fast_history, fast_until, bucket=s.fast_bucket, root=self.root
            )
            hits = detect_frame(fast, bucket=s.fast_bucket, config=s.fast_config)
            found += _active(hits, fast_until, s.fast_bucket, s.fast_config.merge_gap)
        best: dict[tuple[str, str], Anomaly] = {}
        for a in found:
            key = (a.series, a.metric)
            if key not in best or abs(a.z) > abs(best[key].z):
                best[key] = a
        return list(best.values())

    def _should_post(self, alert: Alert, now: datetime) -> bool:
        if alert.status != "open" or alert.notified_at is not None:
            return False
        last = self.store.last_notified(alert.series, alert.metric)
        return last is None or now - last >= self.settings.cooldown

    async def atick(self, now: datetime | None = None) -> TickReport:
        """One evaluation: detect, record, resolve, notify (async twin of :meth:`tick`)."""
        now = now or datetime.now(UTC)
        active = await asyncio.to_thread(self.detect_active, now)
        opened: list[Alert] = []
        to_post: list[Alert] = []
        for a in active:
            alert, new = self.store.record(a, now)
            if new:
                opened.append(alert)
            if self._should_post(alert, now):
                to_post.append(alert)
        resolved = self.store.resolve_quiet({(a.series, a.metric) for a in active}, now)
        report = TickReport(now, active, opened, resolved, [])
        url = self.settings.webhook_url
        if url and to_post:
            report.post = await post_webhook(url, slack_payload(to_post), self.settings.timeout_s)
            if report.post.ok:
                for alert in to_post:
                    self.store.mark_notified(alert.id, now)
                report.posted = [a.id for a in to_post]
            else:
                log.warning("anomaly webhook failed: %s", report.post.error)
        self.last = report
        return report

    def tick(self, now: datetime | None = None) -> TickReport:
        """One evaluation (blocking; safe inside a running event loop)."""
        return run_blocking(lambda: self.atick(now))

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                asyncio.run(self.atick())
            except Exception:  # a bad tick must not end the watcher
                log.exception("anomaly watcher tick failed")
            self._stop.wait(self.settings.every.total_seconds())

    def start(self) -> None:
        """Tick now and then every ``settings.every`` in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="anomaly-watcher", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Ask the thread to stop and wait for the tick in progress."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None

    @property
    def running(self) -> bool:
        """Is the watcher thread alive?"""
        return self._thread is not None and self._thread.is_alive()


def watcher_for_gateway(cfg: Any) -> Watcher:
    """A started watcher for a gateway config's ``anomalies:`` section (the log lake is
    ``logging.dir``, else ``$WORKBENCH_HOME/logs``)."""
    from ._notify import resolve_webhook

    section = cfg.anomalies
    settings = WatchSettings(
        every=timedelta(minutes=section.every_minutes),
        webhook_url=resolve_webhook(
            section.webhook_url, section.webhook_url_env, section.webhook_url_file
        ),
        cooldown=timedelta(minutes=section.cooldown_minutes),
    )
    root = Path(cfg.logging.dir).expanduser() if cfg.logging.dir else None
    watcher = Watcher(settings, root=root)
    watcher.start()
    return watcher
