"""Reader query time on a lake of many small flush files, before and after compaction.

Run: ``.venv/bin/python -m tests.logstore.bench_compaction [--hours 6 --flushes 600]``

Builds a temporary lake of ``hours`` closed hourly partitions with ``flushes`` part files
each (what the writer leaves at one flush a second: 3,600 files an hour), times reader
queries, compacts, and times them again. Also compares a fresh DuckDB connection per
call (the reader before connection reuse) with the cached one. Prints a table; it
asserts nothing about time (not a test).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from workbench.logstore import compact, query, tail
from workbench.logstore.normalize import normalize_record
from workbench.logstore.reader import _HIVE_TYPES
from workbench.logstore.schema import partition_dir, schema

QUERIES = {
    "count": "SELECT count(*) FROM requests",
    "by hour": "SELECT hour, count(*), avg(latency_ms) FROM requests GROUP BY hour",
    "one hour, p95": ("SELECT quantile_cont(latency_ms, 0.95) FROM requests WHERE hour = 3"),
}


def build(root: Path, hours: int, flushes: int, rows: int) -> datetime:
    """Write the part files directly (no fsync: only reading is measured)."""
    start = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(
        hours=hours + 2
    )
    for h in range(hours):
        hour_start = start + timedelta(hours=h)
        folder = root / "requests" / partition_dir(hour_start.strftime("%Y-%m-%d"), hour_start.hour)
        folder.mkdir(parents=True)
        for f in range(flushes):
            at = hour_start + timedelta(seconds=f * 3600 // flushes)
            batch = [
                normalize_record(
                    {
                        "request_id": f"h{h}-f{f}-r{r}",
                        "received_at": at,
                        "latency_ms": 100.0 + r,
                        "status": "ok",
                        "model_requested": "echo",
                        "prompt_tokens": 10,
                    }
                )
                for r in range(rows)
            ]
            table = pa.Table.from_pylist(batch, schema=schema())
            pq.write_table(table, folder / f"part-{f:06d}.parquet", compression="zstd")
    return start + timedelta(hours=hours, minutes=30)


def _median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def _fresh_connection_query(root: Path, sql: str) -> object:
    """What ``query()`` did before connection reuse: a new connection and view per call."""
    con = duckdb.connect(":memory:")
    pattern = str(root / "requests" / "**" / "*.parquet")
    con.execute(
        f"CREATE VIEW requests AS SELECT * FROM read_parquet('{pattern}', "
        f"hive_partitioning = true, union_by_name = true, hive_types = {_HIVE_TYPES})"
    )
    try:
        return con.sql(sql).pl()
    finally:
        con.close()


def measure(root: Path, runs: int) -> dict[str, tuple[float, float]]:
    out: dict[str, tuple[float, float]] = {}
    for name, sql in QUERIES.items():
        cached = _median_ms(lambda sql=sql: query(sql, root), runs)
        fresh = _median_ms(lambda sql=sql: _fresh_connection_query(root, sql), runs)
        out[name] = (cached, fresh)
    out["tail(20)"] = (_median_ms(lambda: tail(20, root), runs), float("nan"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=6)
    parser.add_argument("--flushes", type=int, default=600, help="part files per hour")
    parser.add_argument("--rows", type=int, default=5, help="rows per part file")
    parser.add_argument("--runs", type=int, default=5, help="timed runs per query (median)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "logs"
        now = build(root, args.hours, args.flushes, args.rows)
        files = len(list((root / "requests").glob("**/*.parquet")))
        query(QUERIES["count"], root)  # open the cached database (not timed)
        before = measure(root, args.runs)
        t0 = time.perf_counter()
        report = compact(root, now=now)
        took = time.perf_counter() - t0
        after = measure(root, args.runs)
        total = args.hours * args.flushes * args.rows
        assert query(QUERIES["count"], root).item() == total
    print(
        f"lake: {args.hours} hours x {args.flushes} files x {args.rows} rows = {total} rows; "
        f"{files} files -> {report.files_after} after compaction ({took:.1f} s to compact)"
    )
    print(f"{'query':<16}{'before':>12}{'after':>12}{'fresh conn, after':>20}")
    for name in before:
        b, a, fresh = before[name][0], after[name][0], after[name][1]
        shown = "-" if fresh != fresh else f"{fresh:.1f} ms"
        print(f"{name:<16}{b:>9.1f} ms{a:>9.1f} ms{shown:>20}")


if __name__ == "__main__":
    main()
