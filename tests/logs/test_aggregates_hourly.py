"""Aggregates and pages over day files, hour rollups and minute rollups agree with a raw
recount (a 3-day log, compacted; then a late record makes one day stale)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench import logs
from workbench.logs._filters import Filters
from workbench.logs._rollup_read import rollup_files
from workbench.logstore import compact, rollups

from .conftest import record, write_log

START = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
DAY2 = datetime(2024, 5, 2, tzinfo=UTC)


def _records(n: int) -> list[dict]:
    return [record(i) | {"received_at": START + timedelta(seconds=247 * i)} for i in range(n)]


def _raw(recs: list[dict], since: datetime, until: datetime) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in recs:
        if since <= r["received_at"] < until:
            out[r["workspace"]] = out.get(r["workspace"], 0) + 1
    return out


def _same(a: logs.Page, b: list[str]) -> bool:
    return a.rows["request_id"].to_list() == b


@pytest.mark.parametrize("late", [False, True])
def test_day_files_hour_and_minute_rollups_agree_with_raw(wb_home: Path, late: bool) -> None:
    root = wb_home / "logs"
    recs = _records(1000)  # 06:00 May 1 to ~02:36 May 4
    write_log(root, recs, batch=150)
    compact(root, now=datetime(2024, 5, 6, tzinfo=UTC))
    days = sorted(p.parent.parent.name for p in rollups.day_rollup_dir(root).glob("*/*/*.parquet"))
    assert days == ["date=2024-05-01", "date=2024-05-02", "date=2024-05-03", "date=2024-05-04"]
    if late:  # a late record for May 2: its day file and hour rollup are stale now
        extra = record(5000) | {"received_at": DAY2 + timedelta(hours=5, minutes=1)}
        write_log(root, [extra])
        recs = [*recs, extra]
    f = Filters.of(DAY2, DAY2 + timedelta(days=1))
    files = rollup_files(root, f)
    assert any(p.name.startswith(rollups.DAY_PREFIX) for p in files) is not late
    windows = [
        (DAY2, DAY2 + timedelta(days=1)),  # the day file (or hours + minutes when late)
        (START, START + timedelta(days=4)),  # days, hours, edges
        (DAY2 + timedelta(hours=3, minutes=7), DAY2 + timedelta(days=1, hours=2, minutes=1)),
    ]
    for since, until in windows:
        want = _raw(recs, since, until)
        rates = logs.rates(since, until, by="workspace", root=root)
        assert dict(zip(rates["workspace"], rates["requests"], strict=True)) == want
        t = logs.traffic(since, until, bucket="1h", root=root)
        assert t["requests"].sum() == sum(want.values())
        for by in ("model_served", "key_id"):
            hourly = logs.latency(since, until, by=by, root=root).sort(by)
            rollups_only = _minute_latency(root, since, until, by)
            assert hourly.equals(rollups_only), (since, by)
        page = logs.page(since, until, workspace="acme", offset=40, limit=30, root=root)
        ids = sorted(
            (r for r in recs if since <= r["received_at"] < until and r["workspace"] == "acme"),
            key=lambda r: r["received_at"],
            reverse=True,
        )
        assert page.total == want["acme"]
        assert _same(page, [r["request_id"] for r in ids[40:70]])


def _minute_latency(root: Path, since: datetime, until: datetime, by: str) -> object:
    """The same latency table read from minute rollups only (hour/day files removed)."""
    import shutil

    backup = root.parent / "derived"
    for name in ("hour", "day"):
        shutil.copytree(root / "rollups" / name, backup / name, dirs_exist_ok=True)
        shutil.rmtree(root / "rollups" / name)
    try:
        return logs.latency(since, until, by=by, root=root).sort(by)
    finally:
        for name in ("hour", "day"):
            shutil.copytree(backup / name, root / "rollups" / name)
        shutil.rmtree(backup)
