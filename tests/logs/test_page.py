"""Explorer pages walk hour partitions: order and offsets across hour boundaries, totals
from the rollups (exact) or a bounded count (text/check searches), all vs a recount."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from workbench import logs
from workbench.logs import explorer
from workbench.logstore import compact, rollups

from .conftest import BASE, RECORDS

UNTIL = "2024-05-01T13:00:00Z"
OFFSETS = (0, 7, 270, 276, 277, 300, 550, 560, 800, 829, 830, 2000)


def _want(since: datetime | None = None, until: datetime | None = None, **match: Any) -> list[dict]:
    rows = [
        r
        for r in RECORDS
        if (since is None or r["received_at"] >= since)
        and (until is None or r["received_at"] < until)
        and all(
            r[k] in (v if isinstance(v, list) else [v]) for k, v in match.items() if k != "text"
        )
        and ("text" not in match or match["text"] in r["response_body"])
    ]
    return sorted(rows, key=lambda r: r["received_at"])


def _check(lake: Path, want: list[dict], limit: int = 50, **kwargs: Any) -> None:
    for order in ("desc", "asc"):
        ordered = want[::-1] if order == "desc" else want
        for offset in OFFSETS:
            p = logs.page(offset=offset, limit=limit, order=order, root=lake, **kwargs)
            ids = p.rows["request_id"].to_list()
            assert ids == [r["request_id"] for r in ordered[offset : offset + limit]], (
                order,
                offset,
            )
            assert p.total == len(want) and p.exact


def test_page_order_and_offsets_across_hours(lake: Path) -> None:
    _check(lake, _want(), until=UNTIL)
    _check(lake, _want(), limit=3)  # no time bounds at all
    acme = _want(workspace="acme", status=["ok", "error"])
    _check(lake, acme, until=UNTIL, workspace="acme", status=["ok", "error"])
    model = _want(model_served="large", key_id=["key-1", "key-3"])
    _check(lake, model, model="large", key=["key-1", "key-3"])


def test_window_edges_cut_hours(lake: Path) -> None:
    since, until = BASE + timedelta(minutes=31, seconds=5), BASE + timedelta(hours=2, minutes=9)
    want = _want(since, until, status="ok")
    assert 0 < len(want) < len(RECORDS)
    _check(lake, want, since=since, until=until, status="ok")


def test_after_compaction_counts_come_from_hour_rollups(lake: Path) -> None:
    compact(lake, now=BASE + timedelta(days=1))
    assert len(list(rollups.hour_rollup_dir(lake).glob("*/*/*.parquet"))) == 3
    _check(lake, _want(key_id="key-2"), key="key-2", until=UNTIL)
    # a minute rollup lost: that hour is counted on raw rows, still exact
    next(rollups.rollup_dir(lake).glob("*/hour=11/*.parquet")).unlink()
    _check(lake, _want(workspace="globex"), workspace="globex")


def test_text_search_and_bounded_count(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    refunds = _want(text="refund")
    assert len(refunds) == 17
    _check(lake, refunds, limit=5, text="refund", until=UNTIL)
    jb = [r for r in sorted(RECORDS, key=lambda r: r["received_at"]) if '"jailbreak"' in
          r["guardrail_verdicts"]][::-1]  # fmt: skip
    monkeypatch.setattr(explorer, "COUNT_CAP", 40)
    p = logs.page(check="jailbreak", limit=30, offset=20, root=lake)
    assert p.rows["request_id"].to_list() == [r["request_id"] for r in jb[20:50]]
    assert (p.total, p.exact, p.total_label) == (40, False, "40+")
    few = logs.page(text="refund", limit=5, root=lake)  # under the cap: exact
    assert (few.total, few.exact, few.total_label) == (17, True, "17")
    assert logs.page(text="no such text", root=lake).total == 0
