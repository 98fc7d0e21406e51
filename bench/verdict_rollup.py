"""Verdict-rollup bench: ``governance.violations`` / ``violating_requests`` read from the
verdict rollup (whole hours) + raw edge hours, against the raw-row query they replaced
(every row's ``guardrail_verdicts`` parsed), side by side on one lake, answers compared.

    python -m bench.verdict_rollup --lake /tmp/lake/logs [--backfill] [--repeats 3]

``--backfill`` first times the one-time build of the verdict rollup of a lake written
before it existed (what a writer opening such a lake does: ``rollups.repair``).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

RANGES = {"24h": 1, "7d": 7, "30d": 30}


def _raw_violations(since: datetime, until: datetime, root: Path) -> Any:
    """The query ``violations`` ran before the rollup: every row's verdicts parsed."""
    from workbench.logs import governance as gov

    sql = (
        'SELECT "check", validator, stage, action, mode, CAST(count(*) AS BIGINT) AS verdicts, '
        f"CAST(count(DISTINCT request_id) AS BIGINT) AS requests FROM ({gov._FAILED}) "
        'GROUP BY ALL ORDER BY requests DESC, "check", action'
    )
    return gov._query(sql, since, until, None, root)


def _raw_flagged(since: datetime, until: datetime, root: Path) -> int:
    """The review queue's count before the rollup: every row of the range parsed (its
    examples came from the same full result)."""
    from workbench.logs import governance as gov

    return gov._query(gov._examples_sql("flagged"), since, until, None, root).height


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), out


def _same(a: Any, b: Any) -> bool:
    cols = ["check", "validator", "stage", "action", "mode"]
    return bool(a.sort(cols, nulls_last=True).equals(b.sort(cols, nulls_last=True)))


def _compare(root: Path, rng: str, since: datetime, end: datetime, repeats: int) -> list[str]:
    from workbench.logs import governance as gov

    out = []
    before, want = _time(partial(_raw_violations, since, end, root), repeats)
    after, got = _time(partial(gov.violations, since, end, root=root), repeats)
    out.append(f"{'violations()':<22} {rng:>5} {before:>10,.0f} {after:>9,.0f} "
               f"{before / after:>8.1f}x  {_same(want, got)}")  # fmt: skip
    n, total = _time(partial(gov.violating_requests, since, end, root=root), repeats)
    out.append(f"{'violating_requests()':<22} {rng:>5} {'':>10} {n:>9,.0f} {'':>9}  {total:,}")
    before, want_n = _time(partial(_raw_flagged, since, end, root), repeats)
    after, (got_n, _) = _time(
        partial(gov.blocked_requests, "flagged", since, end, limit=50, root=root), repeats
    )
    out.append(f"{'flagged queue (50)':<22} {rng:>5} {before:>10,.0f} {after:>9,.0f} "
               f"{before / after:>8.1f}x  {want_n == got_n} ({got_n:,})")  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    from workbench.logstore import rollups

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", type=Path, required=True, help="the lake root (has requests/)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--backfill", action="store_true")
    args = ap.parse_args(argv)
    root = args.lake
    if args.backfill:
        t0 = time.perf_counter()
        written = rollups.repair(root)
        print(f"backfill (rollups.repair): {written} file(s) in {time.perf_counter() - t0:.1f} s")
    print(f"median of {args.repeats} runs, ms")
    print(f"{'call':<22} {'range':>5} {'raw rows':>10} {'rollup':>9} {'speed-up':>9}  same")
    end = datetime.now(UTC)  # one fixed window per range: both sides read the same rows
    for rng, days in RANGES.items():
        since = end - timedelta(days=days)
        rows = _compare(root, rng, since, end, args.repeats)
        print("\n".join(rows), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
