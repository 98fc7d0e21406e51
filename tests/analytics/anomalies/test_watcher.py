"""The watcher on a real log: alerts written, de-duplicated, posted with cool-down."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest

from workbench.analytics.anomalies import AlertStore, Watcher, WatchSettings, acknowledge, mute

from ._log import hourly, write
from ._series import T0
from ._webhook import Receiver

SERIES = {"workspace=ws-a", "key=key-1", "model=m1"}


def _watcher(home: Path, url: str, cooldown: timedelta = timedelta(hours=1)) -> Watcher:
    settings = WatchSettings(webhook_url=url, cooldown=cooldown)
    return Watcher(settings, store=AlertStore(home / "anomalies" / "alerts.db"), root=home / "logs")


def test_watcher_writes_dedups_posts_and_resolves(wb_home: Path) -> None:
    root = wb_home / "logs"
    write(root, hourly(T0, 70) + hourly(T0 + timedelta(hours=70), 2, errors=24))
    with Receiver() as hook:
        w = _watcher(wb_home, hook.url)
        r1 = w.tick(T0 + timedelta(hours=72, minutes=5))
        assert {(a.series, a.metric, a.direction) for a in r1.opened} == {
            (s, "error_rate", "up") for s in SERIES
        }
        assert len(hook.bodies) == 1 and sorted(r1.posted) == sorted(a.id for a in r1.opened)
        body = hook.bodies[0]
        assert "3 anomaly alert(s)" in body["text"] and len(body["blocks"]) == 4
        assert all(
            b["type"] == "section" and "error_rate" in b["text"]["text"] for b in body["blocks"][1:]
        )
        # the same anomaly on the next tick: the same alerts, updated, not re-sent
        r2 = w.tick(T0 + timedelta(hours=72, minutes=10))
        assert r2.opened == [] and r2.posted == [] and len(hook.bodies) == 1
        rows = {a.series: a for a in w.store.list()}
        assert len(rows) == 3 and all(a.status == "open" for a in rows.values())
        assert all(a.last_seen == T0 + timedelta(hours=72, minutes=10) for a in rows.values())
        # acknowledge one, mute one for a day, then the errors stop
        acknowledge(rows["key=key-1"].id, note="on it")
        mute(rows["model=m1"].id, until=T0 + timedelta(days=10))
        write(root, hourly(T0 + timedelta(hours=72), 4))
        r3 = w.tick(T0 + timedelta(hours=76, minutes=5))
        assert {a.series for a in r3.resolved} == {"workspace=ws-a", "key=key-1"}
        assert w.store.get(rows["model=m1"].id).status == "muted"
        # a new burst six hours after the last post (cool-down 1 h): new alerts, posted;
        # the muted series absorbs its detection silently
        write(root, hourly(T0 + timedelta(hours=76), 2, errors=24))
        r4 = w.tick(T0 + timedelta(hours=78, minutes=5))
        assert {a.series for a in r4.opened} == {"workspace=ws-a", "key=key-1"}
        assert len(hook.bodies) == 2 and len(r4.posted) == 2
        assert w.store.get(rows["model=m1"].id).status == "muted"


def test_cooldown_and_failed_posts(wb_home: Path) -> None:
    root = wb_home / "logs"
    write(root, hourly(T0, 70) + hourly(T0 + timedelta(hours=70), 2, errors=24))
    with Receiver() as hook:
        hook.status = 500  # the first post fails: alerts stay unnotified, retried next tick
        w = _watcher(wb_home, hook.url, cooldown=timedelta(hours=12))
        r1 = w.tick(T0 + timedelta(hours=72, minutes=5))
        assert len(r1.opened) == 3 and r1.posted == []
        assert r1.post is not None and not r1.post.ok and "HTTP 500" in (r1.post.error or "")
        assert "/hook" not in (r1.post.error or "")  # the URL path may be a secret
        hook.status = 200
        r2 = w.tick(T0 + timedelta(hours=72, minutes=10))
        assert len(r2.posted) == 3 and len(hook.bodies) == 2
        # quiet, resolved; a new burst within the 12 h cool-down is recorded, not posted
        write(root, hourly(T0 + timedelta(hours=72), 4))
        assert len(w.tick(T0 + timedelta(hours=76, minutes=5)).resolved) == 3
        write(root, hourly(T0 + timedelta(hours=76), 2, errors=24))
        r4 = w.tick(T0 + timedelta(hours=78, minutes=5))
        assert len(r4.opened) == 3 and r4.posted == [] and len(hook.bodies) == 2


def test_gateway_config_section_runs_a_watcher_thread(
    wb_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from workbench.analytics.anomalies import watcher_for_gateway
    from workbench.config.gateway import parse_config
    from workbench.errors import ConfigError

    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/hook")
    section = {
        "enabled": True,
        "every_minutes": 0.01,
        "webhook_url_env": "HOOK_URL",
        "cooldown_minutes": 5,
    }
    cfg = parse_config({"models": [{"name": "echo", "provider": "echo"}], "anomalies": section})
    w = watcher_for_gateway(cfg)
    try:
        assert w.running
        assert w.settings.webhook_url == "http://127.0.0.1:9/hook"
        assert w.settings.cooldown == timedelta(minutes=5)
        for _ in range(600):  # wait for the first tick (an empty lake: nothing active)
            if w.last is not None:
                break
            time.sleep(0.1)
        assert w.last is not None and w.last.active == [] and w.last.opened == []
    finally:
        w.stop()
    assert not w.running
    with pytest.raises(ConfigError, match="anomalies"):
        parse_config(
            {
                "models": [{"name": "echo", "provider": "echo"}],
                "anomalies": {"enabled": True, "every": 5},
            }
        )


def test_minute_view_sees_a_burst_inside_the_current_hour(wb_home: Path) -> None:
    from ._log import record

    root = wb_home / "logs"
    burst = T0 + timedelta(hours=3)
    recs = hourly(T0, 3, per_hour=240)
    for i in range(80):  # 20 minutes, every other request failing
        at = burst + timedelta(seconds=15 * i)
        recs.append(record(at, status="error", http_status=502) if i % 2 else record(at))
    write(root, recs)
    w = Watcher(WatchSettings(), store=AlertStore(wb_home / "a.db"), root=root)
    now = burst + timedelta(minutes=25)
    assert {(a.series, a.metric) for a in w.detect_active(now)} == {
        (s, "error_rate") for s in SERIES
    }
    hourly_only = Watcher(WatchSettings(fast_bucket=None), store=w.store, root=root)
    assert hourly_only.detect_active(now) == []  # the hour is not complete yet
