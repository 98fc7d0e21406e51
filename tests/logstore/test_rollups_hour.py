"""Hour rollups: equal to a raw recount per hour after compaction, a late record and a
rebuild; named after the minute files they were made from."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from workbench.logstore import LogWriter, compact, rebuild_rollups, rollups

from .test_rollups import _RAW, _SUMS, BASE, _records

_KEYS = "date_trunc('hour', {t}), workspace, key_id, model_served, status"


def _hour_rolled(root: Path) -> list[tuple]:
    src = f"read_parquet('{rollups.hour_rollup_dir(root)}/*/*/*.parquet')"
    keys = _KEYS.format(t="minute")
    return duckdb.sql(f"SELECT {keys}, {_SUMS} FROM {src} GROUP BY ALL ORDER BY ALL").fetchall()


def _raw_hours(root: Path) -> list[tuple]:
    src = f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true)"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    keys = _KEYS.format(t="received_at")
    return con.sql(f"SELECT {keys}, {_RAW} FROM {src} GROUP BY ALL ORDER BY ALL").fetchall()


def _hour_files(root: Path) -> list[Path]:
    return sorted(rollups.hour_rollup_dir(root).glob("*/*/*.parquet"))


def _write(root: Path, recs: list[dict]) -> None:
    with LogWriter(root) as w:
        for k in range(0, len(recs), 200):
            w.append(recs[k : k + 200])
            w.flush()


def test_hour_rollups_after_compaction_equal_a_raw_recount(root: Path) -> None:
    _write(root, _records(1500))  # 10:00 - 12:55, many flushes
    assert _hour_files(root) == []  # written when an hour closes, not per flush
    compact(root, now=BASE + timedelta(days=1))
    files = _hour_files(root)
    assert len(files) == 3
    for path in files:  # one row per hour and combination, named after its minute files
        minute = sorted(
            p.name
            for p in (
                rollups.rollup_dir(root) / path.parent.relative_to(rollups.hour_rollup_dir(root))
            ).glob("*.parquet")
        )
        assert path.name == rollups.hour_rollup_name(minute)
        table = pq.read_table(path, partitioning=None)
        assert table.schema.names == rollups.rollup_schema().names
        assert len({t.replace(minute=0) for t in table.column("minute").to_pylist()}) == 1
        assert {t.minute for t in table.column("minute").to_pylist()} == {0}
    assert _hour_rolled(root) == _raw_hours(root)
    assert sum(r[5] for r in _hour_rolled(root)) == 1500


def test_hour_histograms_sum_the_raw_buckets(root: Path) -> None:
    recs = _records(900)
    _write(root, recs)
    assert rollups.roll_up_hours(root, now=BASE + timedelta(hours=5)) == 2
    src = f"read_parquet('{rollups.hour_rollup_dir(root)}/*/*/*.parquet')"
    got = duckdb.sql(
        f"SELECT model_served, b, CAST(sum(n) AS BIGINT) FROM (SELECT model_served, "
        f"unnest(latency_buckets) AS b, unnest(latency_counts) AS n FROM {src}) GROUP BY ALL"
    ).fetchall()
    want = Counter((r["model_served"], rollups.bucket_of(r["latency_ms"])) for r in recs)
    assert {(m, b): n for m, b, n in got} == dict(want)
    sorted_lists = duckdb.sql(
        f"SELECT bool_and(latency_buckets = list_sort(latency_buckets)) FROM {src}"
    ).fetchall()
    assert sorted_lists == [(True,)]


def test_a_late_record_makes_the_hour_stale_until_the_next_pass(root: Path) -> None:
    _write(root, _records(1500))
    compact(root, now=BASE + timedelta(days=1))
    before = {p.parent.name: p.name for p in _hour_files(root)}
    late = _records(1, start=5000)[0] | {"received_at": BASE + timedelta(minutes=30)}
    _write(root, [late])  # a new part in the compacted 10:00 hour
    minute = sorted(
        p.name for p in (rollups.rollup_dir(root) / "date=2024-05-01/hour=10").glob("*.parquet")
    )
    assert rollups.hour_rollup_name(minute) != before["hour=10"]  # no longer current
    compact(root, now=BASE + timedelta(days=1))  # merges the late part, rolls the hour again
    after = {p.parent.name: p.name for p in _hour_files(root)}
    assert len(_hour_files(root)) == 3  # the stale one was removed
    assert after["hour=10"] != before["hour=10"] and after["hour=11"] == before["hour=11"]
    assert _hour_rolled(root) == _raw_hours(root)
    assert sum(r[5] for r in _hour_rolled(root)) == 1501


def test_rebuild_recomputes_hour_rollups_and_skips_open_hours(root: Path) -> None:
    _write(root, _records(1500))
    compact(root, now=BASE + timedelta(days=1))
    victim = _hour_files(root)[0]
    table = pq.read_table(victim, partitioning=None)
    pq.write_table(table.slice(0, 1), victim)  # corrupted: most rows gone, same name
    assert _hour_rolled(root) != _raw_hours(root)
    rebuild_rollups(root)
    assert len(_hour_files(root)) == 3
    assert _hour_rolled(root) == _raw_hours(root)
    fresh = root.parent / "fresh"
    _write(fresh, _records(100))
    assert rollups.roll_up_hours(fresh, now=BASE + timedelta(minutes=59)) == 0  # still open
    assert rollups.roll_up_hours(fresh, now=BASE + timedelta(minutes=60)) == 1
    assert rollups.roll_up_hours(fresh, now=BASE + timedelta(minutes=60)) == 0  # current
