"""Anomaly injection hooks, and writing into the lake (bulk writer, lock, reader)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from workbench import synth
from workbench.logstore import LogWriter, WriterLockedError, query
from workbench.logstore.bulk import write_tables

END = datetime(2026, 11, 16, tzinfo=UTC)
START = END - timedelta(days=2)
MID = END - timedelta(hours=20)  # Sunday 04:00 UTC


def _gen(*inject: synth.Injection) -> pa.Table:
    return pa.concat_tables(
        synth.generate(START, END, rate_per_hour=800, seed=3, inject=list(inject))
    )


def _window(t: pa.Table, start: datetime, hours: float) -> pa.Table:
    ts = t.column("received_at")
    lo, hi = pa.scalar(start, ts.type), pa.scalar(start + timedelta(hours=hours), ts.type)
    return t.filter(pc.and_(pc.greater_equal(ts, lo), pc.less(ts, hi)))


@pytest.fixture(scope="module")
def base() -> pa.Table:
    return _gen()


def test_spike_multiplies_volume_in_its_window_only(base: pa.Table) -> None:
    spiked = _gen(synth.Spike(MID, hours=2, factor=6, workspace="acme-support"))
    sel = pc.equal(spiked.column("workspace"), "acme-support")
    inside = _window(spiked.filter(sel), MID, 2).num_rows
    before = _window(base.filter(pc.equal(base.column("workspace"), "acme-support")), MID, 2)
    assert inside > 4 * before.num_rows
    other = pc.equal(spiked.column("workspace"), "acme-search")
    assert _window(spiked.filter(other), MID, 2).num_rows == pytest.approx(
        _window(base.filter(pc.equal(base.column("workspace"), "acme-search")), MID, 2).num_rows,
        rel=0.5,
    )


def test_leaked_key_sends_more_and_bigger_requests(base: pa.Table) -> None:
    leak = synth.LeakedKey(MID, hours=3, workspace="acme-support")
    t = _gen(leak)
    ws = t.filter(pc.equal(t.column("workspace"), "acme-support"))
    counts = pc.value_counts(ws.column("key_id")).to_pylist()
    key = max(counts, key=lambda c: c["counts"])["values"]
    mine = _window(ws.filter(pc.equal(ws.column("key_id"), key)), MID, 3)
    earlier = _window(ws.filter(pc.equal(ws.column("key_id"), key)), MID - timedelta(hours=24), 3)
    tokens = pc.mean(mine.column("total_tokens")).as_py()
    assert tokens > 3 * pc.mean(earlier.column("total_tokens")).as_py()
    assert mine.num_rows > 1.5 * earlier.num_rows


def test_error_burst_latency_regression_cache_collapse_attack_surge() -> None:
    at = END - timedelta(hours=10)
    t = _gen(
        synth.ErrorBurst(at, hours=2, model="gpt-4o-mini", rate=0.6),
        synth.LatencyRegression(at, hours=2, model="gpt-4o", factor=4),
        synth.CacheCollapse(at, hours=2),
        synth.AttackSurge(at, hours=2, workspace="acme-search", rate=0.5),
    )
    win, prev = _window(t, at, 2), _window(t, at - timedelta(hours=24), 2)
    mini = pc.equal(win.column("model_requested"), "gpt-4o-mini")
    fell_back = pc.sum(pc.greater_equal(win.filter(mini).column("attempt_count"), 2)).as_py()
    assert fell_back > 0.4 * win.filter(mini).num_rows
    assert pc.sum(pc.equal(win.column("cache_status"), "hit")).as_py() == 0
    assert pc.sum(pc.equal(prev.column("cache_status"), "hit")).as_py() > 20

    def p50(x: pa.Table) -> float:
        ok = x.filter(pc.and_(pc.equal(x.column("target"), "gpt-4o"),
                              pc.equal(x.column("attempt_count"), 1)))  # fmt: skip
        return float(pc.approximate_median(ok.column("upstream_ms")).as_py())

    assert p50(win) > 2.5 * p50(prev)
    search = win.filter(pc.equal(win.column("workspace"), "acme-search"))
    denied = pc.sum(pc.equal(search.column("error_code"), "guardrail_denied")).as_py()
    assert denied > 0.35 * search.num_rows


def test_write_into_the_lake_reads_back_with_rollups(wb_home: Path) -> None:
    root = wb_home / "logs"
    report = synth.write(START, END, root=root, rate_per_hour=300, seed=2, progress=False)
    assert report.rows > 5000
    n = query("select count(*) n, count(distinct request_id) d from requests", root=root)
    assert n["n"][0] == report.rows == n["d"][0]
    files = list((root / "requests").glob("date=*/hour=*/part-*.parquet"))
    assert len(files) == report.files == 48  # one file per hour partition
    rollups = list((root / "rollups" / "minute").rglob("part-*.parquet"))
    assert len(rollups) == len(files)
    hours = list((root / "rollups" / "hour").rglob("*.parquet"))
    assert len(hours) == 48  # every hour ended: long ranges read hour rollups at once
    with LogWriter(root) as w:  # the gateway's writer opens the bulk-written lake
        assert w.stats()["accepted"] == 0


def test_bulk_writer_refuses_while_a_log_writer_owns_the_lake(wb_home: Path) -> None:
    root = wb_home / "logs"
    tables = synth.generate(START, START + timedelta(hours=2), rate_per_hour=100, seed=1)
    with LogWriter(root):
        with pytest.raises(WriterLockedError):
            write_tables(root, tables)
    assert not list((root / "requests").glob("**/*.parquet"))
    assert write_tables(root, tables).rows > 0  # once the writer closed


def test_bulk_writer_rejects_a_table_without_the_schema(wb_home: Path) -> None:
    with pytest.raises(ValueError, match="lake schema"):
        write_tables(wb_home / "logs", [pa.table({"request_id": ["x"]})])
