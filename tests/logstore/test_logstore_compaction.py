"""Compaction of closed hourly partitions: correctness, idempotency, safety with the writer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

import workbench.logstore.compaction as compaction_mod
from workbench.logstore import (
    LogWriter,
    WriterLockedError,
    _layout,
    compact,
    compact_closed,
    query,
)

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture

ALL = "SELECT * EXCLUDE (date, hour), date, hour FROM requests ORDER BY request_id"


def _files(root: Path, hour_dir: str = "**") -> list[Path]:
    return sorted((root / "requests").glob(f"{hour_dir}/*.parquet"))


def _counts(root: Path) -> tuple[int, int]:
    row = query("SELECT count(*), count(DISTINCT request_id) FROM requests", root).row(0)
    return int(row[0]), int(row[1])


def _fill(root: Path, make_records: Records, flushes: int, size: int, hours: int = 4) -> None:
    """``flushes`` files per partition over ``hours`` recent hours (the newest is open)."""
    with LogWriter(root) as writer:
        for b in range(flushes):
            writer.append(make_records(size, prefix=f"f{b}-", hours=hours))
            writer.flush()


def _now(root: Path) -> datetime:
    """Half past the hour of the newest record: that hour is open, every earlier one is
    closed (whatever the wall clock does while the test runs)."""
    newest = query("SELECT max(received_at) FROM requests", root).item()
    return newest.replace(minute=30, second=0, microsecond=0)


@pytest.fixture(params=["exchange", "journal"])
def method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the atomic directory exchange and with the journal fallback."""
    if request.param == "journal":
        monkeypatch.setattr(_layout, "exchange", lambda a, b: False)
    return str(request.param)


def test_closed_partitions_become_one_file(root: Path, make_records: Records, method: str) -> None:
    _fill(root, make_records, flushes=30, size=20)
    before = query(ALL, root)
    assert len(_files(root)) == 4 * 30

    report = compact(root, now=_now(root))
    assert report.partitions == 3 and report.skipped_open == 1  # the current hour stays
    assert report.files_before == 90 and report.files_after == 3 and report.method == method
    assert report.rows == 3 * 150
    files = _files(root)
    compacted = [p for p in files if p.name.startswith("compact-")]
    assert len(compacted) == 3 and len(files) == 3 + 30
    assert all(len(_files(root, f"*/{p.parent.name}")) for p in compacted)
    assert query(ALL, root).equals(before)  # same rows, values, types and partitions
    assert not (root / _layout.JOURNAL_FILE).exists()
    assert list((root / _layout.STAGING_DIR).iterdir()) == []
    assert list((root / "requests").glob("**/.*")) == []
    assert _layout.read_epoch(root) % 2 == 0

    again = compact(root, now=_now(root))
    assert again.partitions == 0 and len(_files(root)) == 33


def test_resent_ids_after_compaction_add_no_duplicate(root: Path, make_records: Records) -> None:
    _fill(root, make_records, flushes=5, size=12)
    sent = [make_records(12, prefix=f"f{b}-", hours=4) for b in range(5)]
    with LogWriter(root) as writer:  # the LogSink's case: compaction under a live writer
        assert compact_closed(writer, now=_now(root)).partitions == 3
        for batch in sent:
            assert writer.append(batch) == 0
    with LogWriter(root) as writer:  # and after a restart, ids load from compacted files
        for batch in sent:
            assert writer.append(batch) == 0
    assert _counts(root) == (60, 60)


def test_late_record_is_merged_on_the_next_pass(root: Path, make_records: Records) -> None:
    _fill(root, make_records, flushes=4, size=8)
    hour_ago = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    with LogWriter(root) as writer:
        compact_closed(writer, now=_now(root))
        writer.append([{"request_id": "late", "received_at": hour_ago + timedelta(minutes=5)}])
        writer.flush()
        part_dir = f"date={hour_ago:%Y-%m-%d}/hour={hour_ago.hour:02d}"
        assert len(_files(root, part_dir)) == 2  # the compacted file and the late part
        report = compact_closed(writer, now=_now(root))
    assert report.partitions == 1 and report.files_before == 2
    assert len(_files(root, part_dir)) == 1
    assert _counts(root) == (33, 33)


def test_merged_files_have_bounded_size(root: Path, make_records: Records) -> None:
    _fill(root, make_records, flushes=12, size=30, hours=2)  # 180 rows in the closed hour
    report = compact(root, now=_now(root), max_rows_per_file=50, row_group_rows=16)
    assert report.partitions == 1 and report.files_after == 4 and report.rows == 180
    sizes = [pq.read_metadata(p).num_rows for p in _files(root) if "compact-" in p.name]
    assert sorted(sizes) == [30, 50, 50, 50]
    row_groups = [pq.read_metadata(p).num_row_groups for p in _files(root) if "compact-" in p.name]
    assert max(row_groups) <= 4
    assert _counts(root) == (360, 360)
    # full files are kept as they are; only the small remainder is merged again later
    assert compact(root, now=_now(root), max_rows_per_file=50).partitions == 0


def test_partition_with_unflushed_rows_waits(root: Path, make_records: Records) -> None:
    _fill(root, make_records, flushes=3, size=6, hours=2)
    with LogWriter(root) as writer:
        writer.append(make_records(2, prefix="unflushed-", hours=2))  # one in the closed hour
        report = compact_closed(writer, now=_now(root))
        assert report.partitions == 0 and report.skipped_pending == 1
        writer.flush()
        assert compact_closed(writer, now=_now(root)).partitions == 1
    assert _counts(root) == (20, 20)


def test_a_file_arriving_during_the_merge_cancels_the_swap(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fill(root, make_records, flushes=3, size=6, hours=2)
    writer = LogWriter(root)
    real_merge = compaction_mod._merge
    late_at = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(minutes=30)

    def merge_while_a_late_record_lands(*args: Any, **kwargs: Any) -> Any:
        out = real_merge(*args, **kwargs)
        writer.append([{"request_id": "during-merge", "received_at": late_at}])
        writer.flush()  # a new part in the partition being compacted
        return out

    monkeypatch.setattr(compaction_mod, "_merge", merge_while_a_late_record_lands)
    report = compact_closed(writer, now=_now(root))
    assert report.partitions == 0 and report.skipped_changed == 1
    assert list((root / _layout.STAGING_DIR).iterdir()) == []
    monkeypatch.setattr(compaction_mod, "_merge", real_merge)
    assert compact_closed(writer, now=_now(root)).partitions == 1
    writer.close()
    assert _counts(root) == (19, 19)


def test_cli_compaction_refuses_a_lake_with_a_running_writer(root: Path) -> None:
    writer = LogWriter(root)
    try:
        with pytest.raises(WriterLockedError):
            compact(root)
    finally:
        writer.close()
    with pytest.raises(RuntimeError, match="closed"):
        with writer.layout_lock():
            pass


def test_compaction_keeps_columns_of_older_files(root: Path, make_records: Records) -> None:
    """A file written before a migration lacks new columns; one with an unknown column
    keeps it (compaction never drops data)."""
    _fill(root, make_records, flushes=2, size=4, hours=2)
    old = [p for p in _files(root) if p.parent.name != f"hour={datetime.now(UTC).hour:02d}"][0]
    table = pq.read_table(old, partitioning=None)
    table = table.drop_columns(["gateway_version"]).append_column(
        "legacy", table.column("request_id")
    )
    pq.write_table(table, old)
    compact(root, now=_now(root))
    df = query("SELECT request_id, legacy, gateway_version FROM requests", root)
    assert df.height == 8 and df["legacy"].drop_nulls().len() == table.num_rows


def test_an_unreadable_partition_does_not_stop_the_others(
    root: Path, make_records: Records
) -> None:
    _fill(root, make_records, flushes=2, size=6, hours=3)  # two closed hours
    now = _now(root)
    broken = sorted(p for p in _files(root) if p.parent.name != f"hour={now.hour:02d}")[0]
    broken.write_bytes(b"not parquet")
    report = compact(root, now=now)
    assert report.partitions == 1 and report.failed == 1
    assert broken.exists()  # left as it was, for an operator to look at
    assert list((root / _layout.STAGING_DIR).iterdir()) == []
