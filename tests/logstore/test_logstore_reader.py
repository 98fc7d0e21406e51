"""Readers: another process while the single writer writes; the cached per-root database."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from workbench.logstore import LogWriter, _layout, connect, query, tail
from workbench.logstore.reader import consistent

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture

_READER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from workbench.logstore import query, tail

    root, total = Path(sys.argv[1]), int(sys.argv[2])
    counts = [query("SELECT count(*) FROM requests", root).item()]
    print("ready", flush=True)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        n, d = query("SELECT count(*), count(DISTINCT request_id) FROM requests", root).row(0)
        assert n == d, (n, d)
        tail(5, root)
        counts.append(n)
        if n >= total:
            break
        time.sleep(0.01)
    print(json.dumps(counts))
    """
)


def test_reader_subprocess_while_writing(root: Path, make_records: Records) -> None:
    batches, size = 25, 40
    total = batches * size
    writer = LogWriter(root)
    reader = subprocess.Popen(
        [sys.executable, "-c", _READER, str(root), str(total)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"  # reader is up and polling
        for b in range(batches):
            writer.append(make_records(size, prefix=f"b{b}-", hours=2))
            writer.flush()
            time.sleep(0.02)
    finally:
        writer.close()
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    counts = json.loads(out)
    assert len(set(counts)) > 2, "the reader observed the lake while it was being written"
    assert counts == sorted(counts), "a reader never sees records disappear"
    assert counts[-1] == total
    assert query("SELECT count(*) FROM requests", root).item() == total


def test_connections_share_one_cached_database(root: Path, make_records: Records) -> None:
    with LogWriter(root) as writer:
        writer.append(make_records(3))
    first, second = connect(root), connect(root)
    assert first is not second  # one cursor per caller (DuckDB connections are per thread)
    first.execute("CREATE TABLE probe AS SELECT 42 AS x")
    assert second.execute("SELECT x FROM probe").fetchone() == (42,)
    assert second.execute("SELECT count(*) FROM requests").fetchone() == (3,)
    first.close()
    second.close()
    assert query("SELECT x FROM probe", root).item() == 42  # query() reuses it too


def test_threads_share_the_cached_reader(root: Path, make_records: Records) -> None:
    writer = LogWriter(root)
    writer.append(make_records(10, prefix="seed"))
    writer.flush()
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(10):
                n, d = query("SELECT count(*), count(DISTINCT request_id) FROM requests", root).row(
                    0
                )
                seen.append((n, d))
                assert tail(2, root).height == 2
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for t in threads:
        t.start()
    for b in range(10):
        writer.append(make_records(5, prefix=f"t{b}-"))
        writer.flush()
    for t in threads:
        t.join()
    writer.close()
    assert errors == []
    assert len(seen) == 60 and all(n == d and 10 <= n <= 60 for n, d in seen)


def test_view_follows_an_empty_lake_both_ways(root: Path, make_records: Records) -> None:
    empty = query("SELECT * FROM requests", root)
    assert empty.height == 0 and "request_id" in empty.columns
    with LogWriter(root) as writer:
        writer.append(make_records(4))
    assert query("SELECT count(*) FROM requests", root).item() == 4  # same cached database
    for path in (root / "requests").glob("**/*.parquet"):
        path.unlink()  # e.g. a retention job removed everything
    assert query("SELECT count(*) FROM requests", root).item() == 0
    assert tail(3, root).height == 0


def test_a_query_that_raced_a_layout_change_runs_again(root: Path, make_records: Records) -> None:
    with LogWriter(root) as writer:
        writer.append(make_records(2))
    calls: list[int] = []

    def racing(cur: duckdb.DuckDBPyConnection) -> int:
        calls.append(1)
        if len(calls) == 1:  # a swap happened while this ran
            _layout.begin_change(root)
            _layout.end_change(root)
        if len(calls) == 2:
            raise duckdb.IOException("IO Error: Cannot open file: No such file or directory")
        return int(cur.execute("SELECT count(*) FROM requests").fetchone()[0])

    assert consistent(root, racing) == 2
    assert len(calls) == 3
