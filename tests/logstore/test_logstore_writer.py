"""LogWriter: round trip, idempotency, flushing policy, locking, threads."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from workbench.logstore import LogWriter, WriterLockedError, connect, query, tail

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture


def _parquet_files(root: Path) -> list[Path]:
    return sorted((root / "requests").glob("**/*.parquet"))


def test_round_trip(root: Path, make_records: Records) -> None:
    records = make_records(30, hours=3)
    with LogWriter() as writer:  # default root comes from WORKBENCH_HOME
        assert writer.root == root
        assert writer.append(records) == 30
        assert writer.stats()["pending"] == 30
        assert writer.flush() == 30
        stats = writer.stats()
    assert stats["accepted"] == 30 and stats["pending"] == 0
    assert stats["files_written"] == 3  # one file per partition per flush
    files = _parquet_files(root)
    assert len(files) == 3
    assert all(p.parent.name.startswith("hour=") for p in files)
    assert all(p.parent.parent.name.startswith("date=") for p in files)
    assert list((root / "spool").glob("seg-*")) == []

    df = query("SELECT * FROM requests ORDER BY request_id")
    assert df.height == 30
    row = df.filter(df["request_id"] == "r7").to_dicts()[0]
    src = records[7]
    assert row["received_at"] == src["received_at"]
    assert row["done_at"] == datetime.fromtimestamp(src["done_at"], tz=UTC)
    assert json.loads(row["metadata"]) == {"i": 7}
    assert row["tags"] == ["test"]
    assert json.loads(row["guardrail_verdicts"])[0]["name"] == "regex"
    assert row["prompt_tokens"] == 17 and row["schema_version"] == 3
    assert row["date"] == src["received_at"].strftime("%Y-%m-%d")
    assert row["hour"] == src["received_at"].hour
    by_hour = query("SELECT hour, count(*) AS n FROM requests GROUP BY hour")
    assert sorted(by_hour["n"].to_list()) == [10, 10, 10]


def test_partition_columns_are_typed(root: Path, make_records: Records) -> None:
    with LogWriter(root) as writer:
        writer.append(make_records(2))
    sql = "SELECT column_name, column_type FROM (DESCRIBE requests)"
    types = dict(connect(root).execute(sql).fetchall())
    assert types["date"] == "VARCHAR" and types["hour"] == "INTEGER"
    assert types["received_at"] == "TIMESTAMP WITH TIME ZONE"


def test_idempotent_reappend(root: Path, make_records: Records) -> None:
    records = make_records(10)
    with LogWriter(root) as writer:
        assert writer.append(records) == 10
        assert writer.append(records) == 0  # same ids while spooled
        writer.flush()
        assert writer.append(records[:3] + make_records(2, prefix="n")) == 2  # after flush
        dup = make_records(1, prefix="d")
        assert writer.append(dup + dup) == 1  # duplicate inside one batch
        assert writer.stats()["duplicates_dropped"] == 10 + 3 + 1
    with LogWriter(root) as writer:  # ids already in Parquet are loaded on open
        assert writer.append(records) == 0
    assert query("SELECT count(*) AS n, count(DISTINCT request_id) AS d FROM requests").row(0) == (
        13,
        13,
    )


def test_dedupe_window_bounds_loaded_ids(root: Path, make_records: Records) -> None:
    with LogWriter(root) as writer:
        writer.append(make_records(3, hours=1))
    with LogWriter(root, dedupe_window_s=60.0) as writer:
        # the current hour's partition is still inside the window (it ends in the future)
        assert writer.stats()["known_ids"] == 3
    old = [{"request_id": "old", "received_at": "2020-01-01T00:00:00Z"}]
    with LogWriter(root) as writer:
        writer.append(old)
    with LogWriter(root) as writer:
        assert writer.stats()["known_ids"] == 3  # the 2020 partition is not scanned


def test_maybe_flush_rows_and_interval(root: Path, make_records: Records) -> None:
    with LogWriter(root, flush_rows=5, flush_interval_s=3600) as writer:
        writer.append(make_records(4))
        assert writer.maybe_flush() == 0
        writer.append(make_records(1, start=4))
        assert writer.maybe_flush() == 5
        assert writer.maybe_flush() == 0  # nothing pending
    with LogWriter(root, flush_rows=1000, flush_interval_s=0.05) as writer:
        writer.append(make_records(2, prefix="t"))
        time.sleep(0.1)
        assert writer.maybe_flush() == 2


def test_single_writer_lock(root: Path) -> None:
    writer = LogWriter(root)
    with pytest.raises(WriterLockedError):
        LogWriter(root)
    writer.close()
    writer.close()  # idempotent
    with pytest.raises(RuntimeError, match="closed"):
        writer.append([{"request_id": "x", "received_at": 0}])
    LogWriter(root).close()  # lock released


def test_concurrent_appends(root: Path, make_records: Records) -> None:
    writer = LogWriter(root, flush_rows=50)

    def worker(k: int) -> None:
        for j in range(10):
            writer.append(make_records(20, prefix=f"w{k}-{j}-"))
            writer.maybe_flush()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()
    assert writer.stats()["accepted"] == 8 * 10 * 20
    n, d = query("SELECT count(*), count(DISTINCT request_id) FROM requests", root).row(0)
    assert n == d == 1600


def test_readers_on_fresh_lake(root: Path) -> None:
    df = query("SELECT * FROM requests")
    assert df.height == 0
    assert "request_id" in df.columns and "hour" in df.columns
    assert tail(5).height == 0


def test_tail_newest_first(root: Path) -> None:
    with LogWriter(root) as writer:
        writer.append(
            [{"request_id": f"t{i}", "received_at": 1_800_000_000 + 600 * i} for i in range(12)]
        )
    df = tail(3, root)
    assert df["request_id"].to_list() == ["t11", "t10", "t9"]
    assert tail(root=root).height == 12


def test_long_lived_connection_sees_new_files(root: Path, make_records: Records) -> None:
    writer = LogWriter(root)
    writer.append(make_records(2))
    writer.flush()
    con = connect(root)
    writer.append(make_records(3, prefix="x"))
    writer.flush()
    writer.close()
    assert con.execute("SELECT count(*) FROM requests").fetchone() == (5,)
