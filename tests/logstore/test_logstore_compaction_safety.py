"""Compaction under concurrent readers and writers, and real crashes at every step."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest

from workbench.logstore import LogWriter, _layout, compact, compact_closed, query

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture

COUNTS = "SELECT count(*), count(DISTINCT request_id) FROM requests"


def _fill(root: Path, make_records: Records, flushes: int, size: int, hours: int) -> int:
    with LogWriter(root) as writer:
        for b in range(flushes):
            writer.append(make_records(size, prefix=f"f{b}-", hours=hours))
            writer.flush()
    return flushes * size


def _now(root: Path) -> datetime:
    newest = query("SELECT max(received_at) FROM requests", root).item()
    return newest.replace(minute=30, second=0, microsecond=0)


class _Readers:
    """Threads that count the lake in a loop; ``raw`` ones use a bare DuckDB glob."""

    def __init__(self, root: Path, library: int, raw: int) -> None:
        self.root = root
        self.stop = threading.Event()
        self.seen: dict[str, list[tuple[int, int]]] = {}
        self.raw_errors = 0
        self.reads = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._library, args=(f"lib{i}",)) for i in range(library)
        ] + [threading.Thread(target=self._raw, args=(f"raw{i}",)) for i in range(raw)]

    def _note(self, name: str, counts: tuple[int, int]) -> None:
        with self._lock:
            self.seen.setdefault(name, []).append(counts)
            self.reads += 1

    def _library(self, name: str) -> None:
        try:
            while not self.stop.is_set():
                n, d = query(COUNTS, self.root).row(0)
                self._note(name, (n, d))
        except BaseException as exc:  # surfaced by the test, not lost in the thread
            self.errors.append(exc)
            raise

    def _raw(self, name: str) -> None:
        con = duckdb.connect()
        pattern = str(self.root / "requests" / "**" / "*.parquet")
        sql = f"SELECT count(*), count(DISTINCT request_id) FROM read_parquet('{pattern}')"
        while not self.stop.is_set():
            try:
                row = con.execute(sql).fetchone()
            except duckdb.IOException:  # a file vanished in the swap: the reader re-runs
                with self._lock:
                    self.raw_errors += 1
                continue
            assert row is not None
            self._note(name, (row[0], row[1]))
        con.close()

    def wait_reads(self, more: int) -> None:
        target = self.reads + more
        deadline = time.monotonic() + 60
        while self.reads < target:
            assert time.monotonic() < deadline, "readers stopped making progress"
            time.sleep(0.001)

    def __enter__(self) -> _Readers:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=60)


@pytest.mark.parametrize("method", ["exchange", "journal"])
def test_readers_never_see_a_row_twice_or_miss_one(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch, method: str
) -> None:
    closed_rows = _fill(root, make_records, flushes=10, size=14, hours=7)  # 6 closed hours
    now = _now(root)
    if method == "journal":
        monkeypatch.setattr(_layout, "exchange", lambda a, b: False)
        real_remove = _layout._remove

        def slow_remove(path: Path) -> None:  # widen the half-swapped window
            time.sleep(0.005)
            real_remove(path)

        monkeypatch.setattr(_layout, "_remove", slow_remove)
    real_swap = _layout.swap
    swaps: list[str] = []

    with _Readers(root, library=2, raw=1 if method == "exchange" else 0) as readers:

        def swap_between_reads(*args: Any) -> str:
            readers.wait_reads(2)  # readers run before and after every swap
            swaps.append(real_swap(*args))
            readers.wait_reads(2)
            return swaps[-1]

        monkeypatch.setattr(_layout, "swap", swap_between_reads)
        writer = LogWriter(root)
        appended = 0

        def keep_writing() -> None:  # the LogSink keeps writing the open hour meanwhile
            nonlocal appended
            for k in range(12):
                writer.append(make_records(3, prefix=f"live{k}-"))
                writer.flush()
                appended += 3

        live = threading.Thread(target=keep_writing)
        live.start()
        report = compact_closed(writer, now=now)
        live.join()
        readers.wait_reads(2)
    writer.close()

    assert readers.errors == []
    assert report.partitions == 6 and swaps == [method] * 6
    total = closed_rows + appended
    assert _counts_final(root) == (total, total)
    for name, seen in readers.seen.items():
        assert all(n == d for n, d in seen), f"{name} saw a row twice"
        assert seen == sorted(seen), f"{name} saw rows disappear"
        assert all(n >= closed_rows for n, _ in seen), f"{name} missed rows"
    assert sum(len(s) for s in readers.seen.values()) >= 6 * 6


def _counts_final(root: Path) -> tuple[int, int]:
    n, d = query(COUNTS, root).row(0)
    return int(n), int(d)


_CHILD = textwrap.dedent(
    """
    import os, sys
    from datetime import datetime
    from pathlib import Path
    import workbench.logstore._layout as L
    import workbench.logstore.compaction as C
    from workbench.logstore import compact

    root, mode, now = Path(sys.argv[1]), sys.argv[2], datetime.fromisoformat(sys.argv[3])

    def crash(*args, **kwargs):
        os._exit(17)

    if mode.startswith("journal"):
        L.exchange = lambda a, b: False
    if mode == "mid_merge":
        C._Output.close = crash
    elif mode == "before_swap":
        L.swap = crash
    elif mode == "after_exchange":
        L._discard = crash
    elif mode == "journal_before_commit":
        L._commit = crash
    elif mode == "journal_after_commit":
        L._apply_journal = crash
    elif mode == "journal_mid_apply":
        L._remove = crash
    compact(root, now=now)
    os._exit(0)
    """
)

_MODES = [
    "mid_merge",
    "before_swap",
    "after_exchange",
    "journal_before_commit",
    "journal_after_commit",
    "journal_mid_apply",
]


@pytest.mark.parametrize("mode", _MODES)
def test_crash_during_compaction_loses_and_duplicates_nothing(
    root: Path, make_records: Records, mode: str
) -> None:
    total = _fill(root, make_records, flushes=6, size=9, hours=3)  # 2 closed hours
    now = _now(root)
    files_before = sorted((root / "requests").glob("**/*.parquet"))
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), mode, now.isoformat()],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ},
    )
    assert proc.returncode == 17, proc.stderr

    staging = list((root / _layout.STAGING_DIR).iterdir())
    journal = root / _layout.JOURNAL_FILE
    assert staging  # every crash point is before the staging folder is discarded
    assert journal.exists() == (mode in {"journal_after_commit", "journal_mid_apply"})
    if mode == "journal_mid_apply":  # files half swapped: readers wait for the repair
        assert _layout.read_epoch(root) % 2 == 1
    else:  # every other state is consistent for readers even before any repair
        assert _counts_final(root) == (total, total)
    if mode in {"mid_merge", "before_swap", "journal_before_commit", "journal_after_commit"}:
        assert sorted((root / "requests").glob("**/*.parquet")) == files_before

    LogWriter(root).close()  # the next open repairs
    assert _counts_final(root) == (total, total)
    assert not journal.exists() and list((root / _layout.STAGING_DIR).iterdir()) == []
    assert list((root / "requests").glob("**/.*")) == []
    assert _layout.read_epoch(root) % 2 == 0

    compact(root, now=now)  # and compaction completes afterwards
    assert _counts_final(root) == (total, total)
    for hour_dir in (root / "requests").glob("date=*/hour=*"):
        names = [p.name for p in hour_dir.glob("*.parquet")]
        closed = hour_dir.name != f"hour={now.hour:02d}" or hour_dir.parent.name != (
            f"date={now:%Y-%m-%d}"
        )
        if closed:
            assert len(names) == 1 and names[0].startswith("compact-"), names
