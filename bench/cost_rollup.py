"""Cost-rollup bench: each suggestion rule of ``cost.suggest`` on raw rows (``rollup=False``,
what it did before the rollup) against the cost rollup (whole hours) + raw edge hours,
side by side on one lake, answers compared (counts and examples equal, money to 1e-9).

    python -m bench.cost_rollup --lake /tmp/lake/logs [--backfill] [--repeats 3]
                                [--ranges 30d,24h]

``--backfill`` first times the one-time build of the cost rollup of a lake written
before it existed (what a writer opening such a lake does: every partition's
``_rollup_cost.sync_partition``, then the ended days' day files, as compaction writes
them; only the cost trees are written). The last line times the
dashboard's call (its three rules at once) from the rollup.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

RULES = ("exact_cache", "max_tokens", "cheaper_model")


def backfill(root: Path) -> int:
    """Write the cost rollup of every requests file that lacks one; returns files."""
    from workbench.logstore import _rollup_cost
    from workbench.logstore.rollups import _partitions

    written = 0
    parts = sorted(_partitions(root / "requests"))
    for date, hour in parts:
        written += _rollup_cost.sync_partition(root, date, hour)
    for date in sorted({d for d, _ in parts}):  # the ended days' day files
        written += _rollup_cost.roll_up_day(root, date)
    return written


def _time(fn: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def same(a: Any, b: Any) -> bool:
    """Equal suggestions: kinds, counts, examples, texts; money and floats to 1e-9."""

    def close(x: Any, y: Any) -> bool:
        if isinstance(x, float) and isinstance(y, float):
            return abs(x - y) <= 1e-9 * max(abs(x), abs(y), 1e-12)
        return bool(x == y)

    if [s.kind for s in a.items] != [s.kind for s in b.items]:
        return False
    for x, y in zip(a.items, b.items, strict=True):
        if (x.requests, x.examples, x.title, x.detail) != (
            y.requests,
            y.examples,
            y.title,
            y.detail,
        ):
            return False
        if not close(x.usd_window, y.usd_window) or x.data.keys() != y.data.keys():
            return False
        if not all(close(v, y.data[k]) for k, v in x.data.items()):
            return False
    return True


def _summary(out: Any) -> str:
    usd = sum(s.usd_window for s in out.items)
    return f"{len(out.items)} sugg., ${usd:,.2f}"


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    from workbench.analytics.cost import suggest

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lake", type=Path, required=True, help="the lake root (has requests/)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs of the rollup side")
    ap.add_argument("--raw-repeats", type=int, default=1, help="timed runs of the raw side")
    ap.add_argument("--ranges", type=lambda s: s.split(","), default=["30d", "24h"])
    ap.add_argument("--backfill", action="store_true")
    ap.add_argument("--backfill-only", action="store_true", help="backfill, then stop")
    args = ap.parse_args(argv)
    root = args.lake
    if args.backfill or args.backfill_only:
        t0 = time.perf_counter()
        written = backfill(root)
        print(f"backfill (cost rollup): {written} file(s) in {time.perf_counter() - t0:.1f} s")
        if args.backfill_only:
            return 0
    from bench.dashboard_scale import _count

    print(f"lake {root}: {_count(root):,} rows; raw: median of {args.raw_repeats}, rollup: "
          f"median of {args.repeats}; seconds")  # fmt: skip
    print(f"{'rule':<15} {'range':>5} {'raw rows':>9} {'rollup':>8} {'speed-up':>9}  same  result")
    now = datetime.now(UTC)  # one fixed window per range: both sides read the same rows
    ok = True
    for rng in args.ranges:
        for rule in RULES:
            kw: dict[str, Any] = {"since": rng, "now": now, "root": root, "kinds": [rule]}
            before, want = _time(partial(suggest, **kw, rollup=False), args.raw_repeats)
            after, got = _time(partial(suggest, **kw), args.repeats)
            eq = same(want, got)
            ok &= eq
            print(f"{rule:<15} {rng:>5} {before:>9.2f} {after:>8.2f} {before / after:>8.1f}x  "
                  f"{str(eq):<5} {_summary(got)}", flush=True)  # fmt: skip
        kw = {"since": rng, "now": now, "root": root, "kinds": list(RULES)}
        page, _ = _time(partial(suggest, **kw), args.repeats)
        print(f"{'dashboard call':<15} {rng:>5} {'':>9} {page:>8.2f}  (the three rules at once)")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
