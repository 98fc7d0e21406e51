"""The scheduler loop and the archive, with a fake clock and a recorded report run."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from workbench.reports import _schedule
from workbench.reports._schedule import ReportFiles, schedule, write_index


class Stop(BaseException):  # not an Exception: the loop would log it and go on
    pass


def test_loop_runs_at_the_time_then_every_interval(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    now = [datetime(2026, 5, 4, 10, 30, tzinfo=UTC)]
    runs: list[datetime] = []

    def fake_run(archive: Path, *, every: timedelta, now: datetime, **kw: Any) -> ReportFiles:
        runs.append(now)
        if len(runs) == 2:
            raise RuntimeError("a bad cycle")  # logged; the schedule goes on
        if len(runs) == 4:
            raise Stop
        return ReportFiles(archive / "x.html")

    def fake_sleep(seconds: float) -> None:
        assert 0 < seconds <= 3600
        now[0] += timedelta(seconds=seconds)
        if len(runs) == 2:  # the machine slept through two more days after the 2nd run
            now[0] += timedelta(days=2)

    monkeypatch.setattr(_schedule, "run_once", fake_run)
    with pytest.raises(Stop):
        schedule(tmp_path, timedelta(days=1), time(6, 0), sleep=fake_sleep, clock=lambda: now[0])
    day = datetime(2026, 5, 5, 6, 0, tzinfo=UTC)
    # 06:00 the next day, then daily; after sleeping through two days only the latest
    # missed cycle runs (not a burst of three)
    assert runs == [day, day + timedelta(days=1), day + timedelta(days=3),
                    day + timedelta(days=4)]  # fmt: skip


def test_index_lists_reports_newest_first(tmp_path: Path) -> None:
    for name, requests in (("compliance-2026-05-01.html", 10),
                           ("compliance-2026-05-02.html", 20)):  # fmt: skip
        (tmp_path / name).write_text("<html></html>")
        meta = {"summary": {"requests": requests, "period": "p <b>", "denied by a guardrail": 1}}
        (tmp_path / name).with_suffix(".json").write_text(json.dumps(meta))
    page = write_index(tmp_path).read_text()
    assert page.index("compliance-2026-05-02.html") < page.index("compliance-2026-05-01.html")
    assert "<td>20</td>" in page and "p &lt;b&gt;" in page  # escaped
    assert "<script" not in page
