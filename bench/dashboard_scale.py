"""Dashboard scale bench: every page's first render and each filter change, timed in headless
chromium through the real app (``workbench dashboard``) on a large log lake, against the
2 s target; optionally the live page while rows arrive at a given rate.

    python -m bench.dashboard_scale --rows 10000000 --lake /tmp/lake10m   # the heavy run
    python -m bench.dashboard_scale --rows 200000 --repeats 3             # quick look
    python -m bench.dashboard_scale --lake /tmp/lake10m --live-rate 1000  # + live under load

The lake is generated with :mod:`workbench.synth` (as :mod:`bench.log_scale` does: 14 days
ending now, hour rollups built as compaction builds them) or reused from ``--lake``.

Timings are the page's own clock (:mod:`bench._page_timing`): first render is navigation
start -> the frame painted once the page shows all its data (as many filled chart/table
sources as the fully loaded page, no spinner; learned from one untimed "cold" visit whose
time is printed too); a filter change is the moment before the click/selection -> the
frame painted once what the page shows has changed and settled. Each figure: median, p95
and max of ``--repeats`` runs.
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
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._page_timing import (
    PageState,
    data_state,
    loaded_state,
    page_now,
    page_ready,
    quiet_ms_for,
    wait_until,
)
from bench._proc import interrupts_raise

TARGET_MS = 2000.0
CALM_MS = 1200.0  # "fully loaded": this long with no message (the live page ticks every 5 s)
DAYS = 14
PAGES = ("live", "cost", "anomalies", "guardrails", "explorer", "policies")

Action = tuple[str, Callable[[Any], None]]


def _select(label: str, value: str) -> Callable[[Any], None]:
    """Choose ``value`` in the select labelled ``label`` ("": its first, empty option)."""

    def act(page: Any) -> None:
        group = page.locator(".bk-input-group", has_text=label).locator("select").first
        if value:
            group.select_option(value)
        else:
            group.select_option(index=0)

    return act


def _button(name: str) -> Callable[[Any], None]:
    return lambda page: page.get_by_role("button", name=name, exact=True).click()


def _type(label: str, text: str) -> Callable[[Any], None]:
    def act(page: Any) -> None:
        box = page.locator(".bk-input-group", has_text=label).locator("input").first
        box.fill(text)
        box.press("Enter")

    return act


#: The filter changes timed on each page, in order (each list ends where it started).
ACTIONS: dict[str, list[Action]] = {
    "live": [(f"range {r}", _button(r)) for r in ("24h", "7d", "30d", "15m", "1h")],
    "cost": [
        ("group by model", _select("Group by", "Model")),
        ("group by day", _select("Group by", "Day")),
        ("group by key", _select("Group by", "Key")),
        ("range 30d", _button("30d")),
        ("range 7d", _button("7d")),
        ("group by workspace", _select("Group by", "Workspace")),
    ],
    "explorer": [
        ("status = rejected", _select("Status", "rejected")),
        ("status = any", _select("Status", "")),
        ("workspace = acme-support", _select("Workspace", "acme-support")),
        ("workspace = all", _select("Workspace", "")),
        ("model = gpt-4o", _select("Model", "gpt-4o")),
        ("model = any", _select("Model", "")),
        ("since 7d", _type("Since", "7d")),
        ("since 24h", _type("Since", "24h")),
        ("text search 'refund'", _type("Text search", "refund")),
        ("text search cleared", _type("Text search", "")),
    ],
    "guardrails": [
        ("range 30d", _button("30d")),
        ("range 24h", _button("24h")),
        ("range 7d", _button("7d")),
    ],
}


@dataclass
class Timings:
    """Samples (ms) of one measured thing; failures counted apart."""

    samples: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def row(self, page: str, what: str) -> str:
        """One line of the results table."""
        xs = sorted(self.samples)
        if not xs:
            return f"{page:<11} {what:<28} {'':>4} {'failed: ' + '; '.join(self.failures)[:60]}"
        p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
        verdict = "ok" if p95 < TARGET_MS and not self.failures else "OVER"
        fails = f" ({len(self.failures)} failed)" if self.failures else ""
        return (
            f"{page:<11} {what:<28} {len(xs):>4} {statistics.median(xs):>9,.0f} {p95:>9,.0f} "
            f"{xs[-1]:>9,.0f} {TARGET_MS:>7,.0f} {verdict:>5}{fails}"
        )


def _loaded(ref: PageState, base: Callable[[PageState], bool]) -> Callable[[PageState], bool]:
    """Shows its data (``base``) as fully as the loaded page ``ref`` did."""
    need_rows = ref.tab_rows > 0
    min_text = 0.8 * len(ref.text)

    def ready(s: PageState) -> bool:
        return (
            base(s)
            and s.filled_sources >= ref.filled_sources
            and (s.tab_rows > 0 or not need_rows)
            and len(s.text) >= min_text
        )

    return ready


def time_first_render(page: Any, base: str, slug: str, repeats: int) -> tuple[float, Timings]:
    """(cold visit ms, warm first renders) of ``/slug``."""
    url = f"{base}/{slug}"
    page.goto(url)
    ref = loaded_state(page, slug, quiet_ms=CALM_MS)
    cold = max(ref.paints) if ref.paints else ref.last_msg
    out = Timings()
    for _ in range(repeats):
        try:
            page.goto(url)
            ready = _loaded(ref, page_ready(slug))
            quiet = quiet_ms_for(slug, 800.0)
            ms, _state = wait_until(page, ready, quiet_ms=quiet, timeout_s=120)
            out.samples.append(ms)
        except Exception as exc:  # a timeout is a result, not a crash of the bench
            out.failures.append(type(exc).__name__)
    return cold, out


#: Text a page shows once an action's data is in (the live page also changes on its own
#: 5 s refresh, so "something changed" is not enough there).
EXPECT = {f"range {r}": f"Last {r} (" for r in ("24h", "7d", "30d", "15m", "1h")}


def time_action(
    page: Any, act: Callable[[Any], None], quiet_ms: float = 800.0, expect: str | None = None
) -> float:
    """ms from just before ``act`` to the settled frame showing its effect."""
    before = data_state(page).signature()
    t0 = page_now(page)
    act(page)

    def ready(s: PageState) -> bool:
        return s.signature() != before and (expect is None or expect in s.text)

    t1, _state = wait_until(page, ready, quiet_ms=quiet_ms, timeout_s=60)
    return max(0.0, t1 - t0)


def time_actions(
    page: Any, base: str, slug: str, actions: list[Action], repeats: int
) -> dict[str, Timings]:
    """Each action's timings over ``repeats`` passes through the list."""
    url = f"{base}/{slug}"
    page.goto(url)
    loaded_state(page, slug, quiet_ms=CALM_MS)
    out: dict[str, Timings] = {name: Timings() for name, _ in actions}
    for _ in range(repeats):
        for name, act in actions:
            try:
                expect = EXPECT.get(name) if slug == "live" else None
                quiet = quiet_ms_for(slug, 800.0)
                out[name].samples.append(time_action(page, act, quiet, expect))
                print(f"  {slug}: {name}: {out[name].samples[-1]:,.0f} ms", file=sys.stderr)
            except Exception as exc:
                out[name].failures.append(type(exc).__name__)
                print(f"  {slug}: {name}: {exc!r:.300}", file=sys.stderr)
                page.goto(url)
                loaded_state(page, slug, quiet_ms=CALM_MS)
    return out


def build_lake(root: Path, rows: int, days: int, seed: int) -> None:
    """Generate ``rows`` requests over ``days`` ending now, then the hour rollups."""
    from workbench import synth
    from workbench.logstore import rollups

    end = datetime.now(UTC).replace(second=0, microsecond=0)
    rate = rows / (days * 24)
    report = synth.write(end - timedelta(days=days), end, root=root, rate_per_hour=rate,
                         seed=seed, batch_rows=200_000, progress=sys.stderr.isatty())  # fmt: skip
    print(f"generated {report.rows:,} rows ({days} days to {end:%Y-%m-%d %H:%M} UTC) in "
          f"{report.seconds:.0f} s")  # fmt: skip
    t0 = time.perf_counter()
    hours = rollups.roll_up_hours(root)
    print(f"hour rollups: {hours} in {time.perf_counter() - t0:.1f} s")


def _count(root: Path) -> int:
    import duckdb

    glob = str(root / "requests" / "**" / "*.parquet")
    con = duckdb.connect(":memory:")
    row = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()
    con.close()
    return int(row[0]) if row else 0


def _measure(args: argparse.Namespace, page: Any, base: str) -> None:
    header = (f"{'page':<11} {'measure':<28} {'n':>4} {'median':>9} {'p95':>9} {'max':>9} "
              f"{'target':>7} {'':>5}")  # fmt: skip
    print(f"\nall times in ms (page clock); target {TARGET_MS:,.0f} ms\n{header}")
    for slug in args.pages:
        cold, first = time_first_render(page, base, slug, args.repeats)
        print(f"{slug:<11} {'first visit (cold)':<28} {1:>4} {cold:>9,.0f}")
        print(first.row(slug, "first render"), flush=True)
        actions = ACTIONS.get(slug, [])
        for name, timings in time_actions(page, base, slug, actions, args.repeats).items():
            print(timings.row(slug, name), flush=True)


def run(args: argparse.Namespace) -> int:
    """Build or reuse the lake, start the dashboard, time the pages (and the live page)."""
    from playwright.sync_api import sync_playwright

    from bench._dashboard import create_key, launch, login, new_context, start_dashboard

    lake = args.lake or Path(tempfile.mkdtemp(prefix="wb-dash-scale-"))
    root, home = lake / "logs", lake / "home"
    home.mkdir(parents=True, exist_ok=True)
    try:
        if (root / "requests").is_dir():
            print(f"reusing the lake in {root}")
        else:
            build_lake(root, args.rows, args.days, args.seed)
        print(f"rows in the lake: {_count(root):,}; load average {os.getloadavg()[0]:.2f}")
        key = create_key(home, "ops", "admin", name="bench")
        dash = start_dashboard(home, root, run_dir=home, timeout_s=300)
        try:
            with sync_playwright() as pw:
                browser = launch(pw)
                page = new_context(browser).new_page()
                page.set_default_timeout(120_000)
                login(page, dash.url, key)
                _measure(args, page, dash.url)
                if args.live_rate:
                    _live(args, page, dash.url, root)
                browser.close()
        finally:
            dash.stop()
        print(f"\nload average at the end: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    finally:
        if args.lake is None:
            shutil.rmtree(lake, ignore_errors=True)
    return 0


def _live(args: argparse.Namespace, page: Any, base: str, root: Path) -> None:
    from bench._dashboard_live import LiveWriter, watch_live

    writer = LiveWriter(root, args.live_rate, seed=args.seed).start()
    try:
        time.sleep(3.0)  # the writer's workspace has rows before the page lists workspaces
        report = watch_live(page, base, writer, args.live_seconds)
    finally:
        writer.stop()
    print()
    print("\n".join(report.lines()))


def main(argv: list[str] | None = None) -> int:
    """Command line entry."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=DAYS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--lake", type=Path, default=None, help="keep/reuse the lake here")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs of each measure")
    ap.add_argument("--pages", type=lambda s: s.split(","), default=list(PAGES))
    ap.add_argument("--live-rate", type=float, default=0.0, help="rows/s during the live watch")
    ap.add_argument("--live-seconds", type=float, default=60.0)
    args = ap.parse_args(argv)
    print(f"dashboard_scale: {args.rows:,} rows; load average {os.getloadavg()[0]:.2f}")
    with interrupts_raise():  # SIGTERM/SIGINT still stop the dashboard and the browser
        return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
