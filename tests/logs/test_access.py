"""workbench.logs access: relations, lazy frames, filters, pruning, sampling, get, page."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from workbench import logs
from workbench.logstore import LogWriter

from .conftest import BASE, RECORDS, N, record

UNTIL = "2024-05-01T13:00:00Z"


def _ids(df: pl.DataFrame) -> set[str]:
    return set(df["request_id"].to_list())


def test_relation_and_scan_filters_match_a_recount(lake: Path) -> None:
    since, until = BASE + timedelta(minutes=30), BASE + timedelta(hours=2, minutes=5)
    want = {
        r["request_id"]
        for r in RECORDS
        if since <= r["received_at"] < until
        and r["workspace"] == "acme"
        and r["model_served"] in ("large",)
        and r["status"] in ("ok", "error")
    }
    args = dict(since=since, until=until.isoformat(), workspace="acme", model="large")
    rel = logs.relation(**args, status=["ok", "error"], root=lake)
    assert isinstance(rel, duckdb.DuckDBPyRelation)
    assert _ids(rel.pl()) == want and len(want) > 10
    lf = logs.scan(**args, status=["ok", "error"], root=lake)
    assert isinstance(lf, pl.LazyFrame)
    assert _ids(lf.collect()) == want
    keyed = logs.relation(since=BASE, until=UTC_END(), key="key-1", root=lake).pl()
    assert keyed.height == sum(r["key_id"] == "key-1" for r in RECORDS)
    cols = logs.scan(until=UNTIL, columns=["request_id", "cost_usd"], root=lake).collect()
    assert cols.columns == ["request_id", "cost_usd"] and cols.height == N


def UTC_END() -> datetime:
    return datetime(2024, 5, 1, 13, 0, tzinfo=UTC)


def test_durations_are_relative_to_now(wb_home: Path) -> None:
    now = datetime.now(UTC)
    recs = [record(1) | {"request_id": "recent", "received_at": now - timedelta(minutes=10)}]
    recs.append(record(2) | {"request_id": "older", "received_at": now - timedelta(hours=3)})
    root = wb_home / "logs"
    with LogWriter(root) as w:
        w.append(recs)
    assert _ids(logs.relation(since="1h", root=root).pl()) == {"recent"}
    assert _ids(logs.scan(since="15m", root=root).collect()) == {"recent"}
    assert _ids(logs.relation(since="1d", until="2h", root=root).pl()) == {"older"}
    assert logs.parse_time("7d", now=now) == now - timedelta(days=7)
    with pytest.raises(ValueError):
        logs.parse_time("yesterday")


def test_time_filters_prune_partitions(lake: Path) -> None:
    bad = lake / "requests" / "date=2024-05-01" / "hour=12" / "part-garbage.parquet"
    bad.write_bytes(b"not parquet at all")  # any query that opens hour 12 fails
    window = dict(since="2024-05-01T10:15:00Z", until="2024-05-01T11:30:00Z", root=lake)
    want = sum(
        BASE + timedelta(minutes=15) <= r["received_at"] < BASE + timedelta(minutes=90)
        for r in RECORDS
    )
    assert logs.relation(**window).pl().height == want
    assert logs.scan(**window).collect().height == want
    assert logs.page(**window).total == want
    assert logs.traffic(**window)["requests"].sum() > 0
    with pytest.raises(duckdb.Error):  # the whole lake does read it: the test can fail
        logs.relation(root=lake).pl()


def test_sample_is_reproducible(lake: Path) -> None:
    a = logs.relation(until=UNTIL, sample=0.3, root=lake).pl()
    b = logs.relation(until=UNTIL, sample=0.3, root=lake).pl()
    assert _ids(a) == _ids(b) and 0.2 * N < a.height < 0.4 * N
    rows = logs.relation(until=UNTIL, sample=25, root=lake).pl()
    assert rows.height == 25 and _ids(rows) == _ids(logs.relation(sample=25, root=lake).pl())
    lazy = logs.scan(sample=0.3, root=lake).collect()
    assert _ids(lazy) == _ids(logs.scan(sample=0.3, root=lake).collect())
    assert 0.2 * N < lazy.height < 0.4 * N
    assert logs.scan(sample=40, root=lake).collect().height == 40
    with pytest.raises(ValueError):
        logs.relation(sample=1.5, root=lake)


def test_get_and_page(lake: Path) -> None:
    one = logs.get("req-00042", root=lake)
    assert one is not None and one["workspace"] == "acme" and one["cost_usd"] == 0.003
    assert logs.get("nope", root=lake) is None
    first = logs.page(until=UNTIL, workspace="globex", limit=20, root=lake)
    globex = sorted(
        (r for r in RECORDS if r["workspace"] == "globex"),
        key=lambda r: r["received_at"],
        reverse=True,
    )
    assert first.total == len(globex)
    assert first.rows["request_id"].to_list() == [r["request_id"] for r in globex[:20]]
    second = logs.page(until=UNTIL, workspace="globex", offset=20, limit=20, root=lake)
    assert second.rows["request_id"].to_list() == [r["request_id"] for r in globex[20:40]]
    asc = logs.page(until=UNTIL, order="asc", limit=3, root=lake)
    assert asc.rows["request_id"].to_list() == ["req-00000", "req-00001", "req-00002"]
    found = logs.page(until=UNTIL, text="REFUND", root=lake)
    assert found.total == len([r for r in RECORDS if "refund" in r["response_body"]])
    text = logs.page(until=UNTIL, text="question 123", root=lake)
    assert text.rows["request_id"].to_list() == ["req-00123"]
    jb = logs.page(until=UNTIL, check="jailbreak", limit=500, root=lake)
    assert jb.total == len([i for i in range(N) if i % 7 == 0]) == jb.rows.height
    assert logs.page(until=UNTIL, check="pii'; drop table x; --", root=lake).total == 0


def test_empty_lake(wb_home: Path) -> None:
    root = wb_home / "logs"
    assert logs.relation(root=root).pl().height == 0
    empty = logs.scan(since="1h", root=root).collect()
    assert empty.height == 0 and "request_original" in empty.columns
    assert logs.page(root=root).total == 0
    assert logs.get("x", root=root) is None
    t = logs.traffic(since="1h", root=root)
    assert t.height >= 60 and t["requests"].sum() == 0
    assert logs.latency(root=root).height == 0
    assert logs.spend(root=root).height == 0 and logs.top_keys(root=root).height == 0


def test_calls_work_inside_a_running_event_loop(lake: Path) -> None:
    async def notebook_cell() -> tuple[int, int, int]:
        rel = logs.relation(until=UNTIL, root=lake).pl().height
        page = logs.page(until=UNTIL, root=lake).total
        tr = int(logs.traffic(since=BASE, until=UNTIL, root=lake)["requests"].sum())
        return rel, page, tr

    assert asyncio.run(notebook_cell()) == (N, N, N)
