"""Rollups: equal to a recount of the raw rows after flushes, compaction, crash + replay."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from workbench.logstore import LogWriter, compact, rebuild_rollups, roll_up, rollups

BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
_SUMS = (
    "sum(requests), sum(errors), sum(rejected), sum(blocks), sum(cache_hits), sum(streamed), "
    "sum(prompt_tokens), sum(completion_tokens), round(sum(cost_usd), 9), sum(latency_count), "
    "sum(ttft_count)"
)
_RAW = (
    "count(*), count_if(status = 'error'), count_if(status = 'rejected'), "
    "count_if(coalesce(error_code = 'guardrail_denied', false) "
    "OR guardrail_verdicts LIKE '%\"deny\"%'), "
    "count_if(cache_status = 'hit'), count_if(stream), sum(prompt_tokens), "
    "sum(completion_tokens), round(sum(cost_usd), 9), count(latency_ms), count(ttft_ms)"
)
_KEYS = "date_trunc('minute', {t}), workspace, key_id, model_served, status"


def _records(n: int, start: int = 0) -> list[dict[str, Any]]:
    out = []
    for i in range(start, start + n):
        out.append(
            {
                "request_id": f"r{i}",
                "received_at": BASE + timedelta(seconds=7 * i),
                "latency_ms": float(1 + (i * 53) % 3000),
                "ttft_ms": float(i % 200) if i % 3 else None,
                "workspace": f"w{i % 2}",
                "key_id": f"k{i % 3}",
                "model_served": ("a", "b")[i % 2],
                "status": ("ok", "error", "rejected", "ok")[i % 4],
                "error_code": "guardrail_denied" if i % 8 == 2 else None,
                # a deny verdict without the error code: a record from another producer
                "guardrail_verdicts": [{"check": "c", "action": "deny", "passed": False}]
                if i % 11 == 0
                else [],
                "cache_status": "hit" if i % 5 == 0 else "miss",
                "stream": i % 2 == 0,
                "prompt_tokens": i % 40,
                "completion_tokens": i % 9,
                "cost_usd": 0.0001 * (i % 13),
            }
        )
    return out


def _rolled(root: Path, group: bool = False) -> list[tuple]:
    src = f"read_parquet('{rollups.rollup_dir(root)}/*/*/*.parquet')"
    if group:
        keys = _KEYS.format(t="minute")
        return duckdb.sql(f"SELECT {keys}, {_SUMS} FROM {src} GROUP BY ALL ORDER BY ALL").fetchall()
    return duckdb.sql(f"SELECT {_SUMS} FROM {src}").fetchall()


def _raw(root: Path, group: bool = False) -> list[tuple]:
    src = f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true)"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if group:
        keys = _KEYS.format(t="received_at")
        return con.sql(f"SELECT {keys}, {_RAW} FROM {src} GROUP BY ALL ORDER BY ALL").fetchall()
    return con.sql(f"SELECT {_RAW} FROM {src}").fetchall()


def _names(tree: Path) -> set[str]:
    return {str(p.relative_to(tree)) for p in tree.glob("*/*/*.parquet")}


def test_rollups_equal_raw_after_flushes_and_compaction(root: Path) -> None:
    recs = _records(1500)  # ~2.9 hours
    with LogWriter(root) as w:
        for k in range(0, 1500, 200):
            w.append(recs[k : k + 200])
            w.flush()
    assert _names(rollups.rollup_dir(root)) == _names(root / "requests")
    assert _rolled(root) == _raw(root) and _raw(root)[0][0] == 1500
    assert _rolled(root, group=True) == _raw(root, group=True)
    report = compact(root, now=BASE + timedelta(days=1))
    assert report.partitions == 3
    names = _names(root / "requests")
    assert all("compact-" in n for n in names) and _names(rollups.rollup_dir(root)) == names
    assert _rolled(root, group=True) == _raw(root, group=True)
    hist = duckdb.sql(
        f"SELECT sum(list_sum(latency_counts)), sum(latency_count) FROM "
        f"read_parquet('{rollups.rollup_dir(root)}/*/*/*.parquet')"
    ).fetchall()
    assert hist == [(1500, 1500)]


def test_crash_before_the_rollup_is_written_is_repaired_on_open(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = LogWriter(root)
    w.append(_records(300))
    w.flush()
    w.append(_records(300, start=300))

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(rollups, "roll_up_file", crash)
    with pytest.raises(OSError):
        w.flush()  # the requests file is written, its rollup is not, the segment stays
    assert len(_names(root / "requests")) > len(_names(rollups.rollup_dir(root)))
    assert list((root / "spool").glob("seg-*"))
    w._lock_fh.close()  # the process dies: the lock goes with it
    monkeypatch.undo()
    with LogWriter(root) as again:  # repairs rollups, replays the spool
        assert again.stats()["recovered"] == 300
    assert _names(rollups.rollup_dir(root)) == _names(root / "requests")
    assert _rolled(root, group=True) == _raw(root, group=True)
    assert _raw(root)[0][0] == 600


def test_roll_up_for_bulk_writers_and_rebuild(root: Path) -> None:
    rows = [r | {"guardrail_verdicts": json.dumps(r["guardrail_verdicts"])} for r in _records(400)]
    table = pa.Table.from_pylist(rows)  # what a bulk writer has: the stored column types
    roll_up(root, table, "bulk1")
    files = sorted(rollups.rollup_dir(root).glob("*/*/part-bulk1.parquet"))
    assert len(files) == 1  # 400 x 7 s: one hour
    first = files[0].stat().st_mtime_ns
    roll_up(root, table.slice(0, 10), "bulk1")  # idempotent by part id
    assert files[0].stat().st_mtime_ns == first
    rolled = duckdb.sql(f"SELECT sum(requests), sum(blocks) FROM '{files[0]}'").fetchall()
    blocks = sum(
        r["error_code"] == "guardrail_denied" or r["guardrail_verdicts"] != []
        for r in _records(400)
    )
    assert rolled == [(400, blocks)]
    with LogWriter(root) as w:
        w.append(_records(100))
    stale = next(rollups.rollup_dir(root).glob("*/*/part-*.parquet"))
    stale.unlink()  # a lost rollup file, and an orphan (no requests file "bulk1")
    assert rebuild_rollups(root) >= 1
    assert _names(rollups.rollup_dir(root)) == _names(root / "requests")
    assert _rolled(root) == _raw(root)


@pytest.mark.parametrize("ms", [0.0, 0.004, 0.02, 1.0, 7.3, 250.0, 999.9, 12_345.0, 3.6e6])
def test_bucket_value_is_within_bucket_precision(ms: float) -> None:
    value = rollups.bucket_value(rollups.bucket_of(ms))
    if ms < rollups.BUCKET_MIN_MS:
        assert value == 0.0
    else:
        assert abs(value - ms) <= 0.025 * ms
