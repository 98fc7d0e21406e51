"""Scale bench: N synthetic requests into a temporary log lake, then each dashboard
aggregate of :mod:`workbench.logs` (served from the hour and minute rollups; the hour
rollups of the closed hours are built first, as compaction builds them) timed against the
same question answered by a plain DuckDB scan of the raw rows (no rollups).

    python -m bench.log_scale --rows 10000000     # the heavy run (minutes)
    python -m bench.log_scale --rows 20000        # smoke
    python -m bench.log_scale --keep /tmp/lake    # generate once, re-run on the same lake

Prints the generation time, the row count, the lake's size, then one line per
aggregate: the median of ``--runs`` runs of each side and the ratio. Both sides run in
this process, one after the other, on a warm OS cache (each side is run once untimed
first).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

DAYS = 14
END = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday


def _raw(root: Path) -> Any:
    """A fresh DuckDB connection with a ``raw`` view over the Parquet files."""
    import duckdb

    con = duckdb.connect(":memory:")
    con.execute("SET TimeZone = 'UTC'")
    glob = str(root / "requests" / "**" / "*.parquet")
    con.execute(f"CREATE VIEW raw AS SELECT * FROM read_parquet('{glob}', hive_partitioning=true)")
    return con


_PAGE = "received_at, request_id, workspace, model_served, status, latency_ms"


def _cases(
    root: Path, start: datetime, end: datetime
) -> list[tuple[str, Callable[[], Any], str | list[str]]]:
    """(name, workbench call, the raw-scan SQL answering the same question)."""
    from workbench import logs

    rng = (
        f"received_at >= TIMESTAMPTZ '{start.isoformat()}' "
        f"AND received_at < TIMESTAMPTZ '{end.isoformat()}'"
    )
    day_ago = end - timedelta(days=1)
    days = round((end - start) / timedelta(days=1))
    rates = (
        "count(*) AS requests, sum((status = 'error')::INT) AS errors, "
        "sum((status = 'rejected')::INT) AS rejected, "
        "sum((error_code = 'guardrail_denied')::INT) AS blocks, "
        "sum((cache_status = 'hit')::INT) AS cache_hits"
    )
    return [
        ("traffic over time (1 h buckets)",
         lambda: logs.traffic(start, end, bucket="1h", root=root),
         f"SELECT date_trunc('hour', received_at) AS t, {rates}, sum(cost_usd) FROM raw "
         f"WHERE {rng} GROUP BY t ORDER BY t"),
        ("latency p50/p95/p99 by model",
         lambda: logs.latency(start, end, root=root),
         "SELECT model_served, count(*), quantile_cont(latency_ms, [0.5, 0.95, 0.99]), "
         "quantile_cont(ttft_ms, [0.5, 0.95, 0.99]), avg(latency_ms), max(latency_ms) "
         f"FROM raw WHERE {rng} GROUP BY model_served"),
        ("spend by workspace and day",
         lambda: logs.spend(start, end, by=("workspace", "day"), root=root),
         "SELECT workspace, CAST(received_at AS DATE) AS day, sum(cost_usd) AS c, count(*), "
         f"sum(prompt_tokens), sum(completion_tokens) FROM raw WHERE {rng} "
         "GROUP BY ALL ORDER BY c DESC"),
        ("top 10 keys",
         lambda: logs.top_keys(start, end, n=10, root=root),
         f"SELECT key_id, workspace, {rates}, sum(cost_usd), "
         "sum(prompt_tokens) + sum(completion_tokens) FROM raw "
         f"WHERE {rng} GROUP BY key_id, workspace ORDER BY requests DESC, key_id LIMIT 10"),
        ("error/block/cache rates by workspace",
         lambda: logs.rates(start, end, by="workspace", root=root),
         f"SELECT workspace, {rates} FROM raw WHERE {rng} GROUP BY workspace"),
        ("log page: 24 h, workspace + status, 50 rows",
         lambda: logs.page(day_ago, end, workspace="acme-support", status="rejected", limit=50,
                           root=root),
         [f"SELECT {_PAGE} FROM raw WHERE received_at >= TIMESTAMPTZ '{day_ago.isoformat()}' "
          f"AND received_at < TIMESTAMPTZ '{end.isoformat()}' AND workspace = 'acme-support' "
          "AND status = 'rejected' ORDER BY received_at DESC LIMIT 50",
          f"SELECT count(*) FROM raw WHERE received_at >= TIMESTAMPTZ '{day_ago.isoformat()}' "
          f"AND received_at < TIMESTAMPTZ '{end.isoformat()}' AND workspace = 'acme-support' "
          "AND status = 'rejected'"]),
        (f"log page: {days} d, newest 50 (+ total)",
         lambda: logs.page(start, end, limit=50, root=root),
         [f"SELECT {_PAGE} FROM raw WHERE {rng} ORDER BY received_at DESC LIMIT 50",
          f"SELECT count(*) FROM raw WHERE {rng}"]),
        (f"log page: {days} d, model + status, offset 500",
         lambda: logs.page(start, end, model="gpt-4o", status="error", offset=500, limit=50,
                           root=root),
         [f"SELECT {_PAGE} FROM raw WHERE {rng} AND (model_requested = 'gpt-4o' OR "
          "model_served = 'gpt-4o') AND status = 'error' ORDER BY received_at DESC "
          "LIMIT 50 OFFSET 500",
          f"SELECT count(*) FROM raw WHERE {rng} AND (model_requested = 'gpt-4o' OR "
          "model_served = 'gpt-4o') AND status = 'error'"]),
    ]  # fmt: skip


def _median_ms(fn: Callable[[], Any], runs: int) -> float:
    fn()  # warm-up (OS cache, DuckDB catalog)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def _runner(con: Any, sql: str | list[str]) -> Callable[[], Any]:
    queries = [sql] if isinstance(sql, str) else sql
    return lambda: [con.execute(q).fetchall() for q in queries]


def _size(root: Path) -> float:
    return sum(p.stat().st_size for p in root.rglob("*.parquet")) / 1e6


def _generate(root: Path, start: datetime, rate: float, seed: int, days: int) -> None:
    from workbench import synth

    report = synth.write(start, END, root=root, rate_per_hour=rate, seed=seed,
                         batch_rows=200_000, progress=sys.stderr.isatty())  # fmt: skip
    speed = report.rows / report.seconds
    print(
        f"generated {report.rows:,} rows ({days} days, {rate:,.0f} requests/h) into "
        f"{report.files:,} files in {report.seconds:.1f} s ({speed:,.0f} rows/s); "
        f"lake {_size(root):,.0f} MB"
    )


def run(rows: int, runs: int, seed: int, keep: Path | None, days: int = DAYS) -> int:
    """Generate ``rows`` requests into a lake (or reuse the one in ``keep``), time the
    aggregates; print the table."""
    from workbench.logs import page
    from workbench.logstore import rollups

    tmp = Path(tempfile.mkdtemp(prefix="wb-scale-")) if keep is None else keep
    root = tmp / "logs"
    start = END - timedelta(days=days)
    rate = rows / (days * 24)
    try:
        if (root / "requests").is_dir():
            print(f"reusing the lake in {root} (generated by an earlier --keep run)")
        else:
            _generate(root, start, rate, seed, days)
        t0 = time.perf_counter()
        hours = rollups.roll_up_hours(root)
        print(
            f"hour rollups: {hours} hour(s) rolled up in {time.perf_counter() - t0:.1f} s "
            "(a gateway's compaction does this as each hour closes); "
            f"{_size(root / 'rollups' / 'hour'):,.1f} MB"
        )
        con = _raw(root)
        count = con.execute("SELECT count(*) FROM raw").fetchone()[0]
        print(f"rows in the lake: {count:,}; each figure the median of {runs} runs (ms)\n")
        print(f"{'aggregate':<46} {'workbench.logs':>15} {'raw DuckDB scan':>16} {'ratio':>7}")
        for name, call, sql in _cases(root, start, END):
            ours = _median_ms(call, runs)
            base = _median_ms(_runner(con, sql), runs)
            print(f"{name:<46} {ours:>15,.1f} {base:>16,.1f} {base / ours:>6.1f}x")
        assert page(start, END, limit=1, root=root).rows.height == 1
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    finally:
        if keep is None:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--days", type=int, default=DAYS, help="time range of the rows")
    ap.add_argument(
        "--keep", type=Path, default=None, help="keep the lake here (reused if it holds one)"
    )
    args = ap.parse_args(argv)
    print(f"log_scale: {args.rows:,} rows requested; load average {os.getloadavg()[0]:.2f}")
    return run(args.rows, args.runs, args.seed, args.keep, args.days)


if __name__ == "__main__":
    raise SystemExit(main())
