"""The live page under write load: a writer thread appends N rows/s through the real
:class:`~workbench.logstore.LogWriter` while a browser watches ``/live``.

The rows are :mod:`workbench.synth` rows re-stamped to "now" with fresh ids, all in a
workspace of their own (:data:`WORKSPACE`), so the page's "Requests" card over the last
15 minutes counts exactly the rows written so far that the page has read. Each time the
card changes, the frame's wall-clock time and the count are recorded; the lag of that
refresh is the time since the newest row it counts was appended.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._page_timing import data_state

WORKSPACE = "live-bench"
TICK_S = 0.1


def _pool(n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` realistic rows to recycle (generated once)."""
    from workbench import synth

    end = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for table in synth.generate(end - timedelta(hours=6), end, rate_per_hour=n / 5, seed=seed):
        rows.extend(table.to_pylist())
        if len(rows) >= n:
            break
    if not rows:
        raise RuntimeError("synth produced no rows for the live writer's pool")
    return rows[:n]


def _restamp(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    out = dict(row)
    shift = now - row["received_at"]
    for col in ("received_at", "first_byte_at", "done_at"):
        if out.get(col) is not None:
            out[col] = out[col] + shift
    out["request_id"] = uuid.uuid4().hex
    out["workspace"] = WORKSPACE
    out.pop("date", None)
    out.pop("hour", None)
    return out


@dataclass
class LiveWriter:
    """Appends ``rate`` rows/s to the lake at ``root`` in a thread until stopped."""

    root: Path
    rate: float
    seed: int = 0
    written: list[tuple[float, int]] = field(default_factory=list)  # (epoch s, total)
    flushes: int = 0
    behind_s: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    error: BaseException | None = None

    def start(self) -> LiveWriter:
        """Start writing (returns at once)."""
        pool = _pool(max(2000, int(self.rate * 5)), self.seed)
        self._thread = threading.Thread(target=self._run, args=(pool,), daemon=True)
        self._thread.start()
        return self

    def _run(self, pool: list[dict[str, Any]]) -> None:
        from workbench.logstore import LogWriter

        try:
            with LogWriter(self.root) as writer:
                self._loop(writer, pool)
        except BaseException as exc:  # reported by stop()
            self.error = exc

    def _loop(self, writer: Any, pool: list[dict[str, Any]]) -> None:
        t0, total, i = time.time(), 0, 0
        while not self._stop.is_set():
            due = int((time.time() - t0) * self.rate) - total
            if due > 0:
                now = datetime.now(UTC)
                batch = [_restamp(pool[(i + k) % len(pool)], now) for k in range(due)]
                i += due
                total += writer.append(batch)
                self.written.append((time.time(), total))
            self.flushes += 1 if writer.maybe_flush() else 0
            self.behind_s = max(self.behind_s, (int((time.time() - t0) * self.rate) - total)
                                / self.rate)  # fmt: skip
            self._stop.wait(TICK_S)

    def stop(self) -> None:
        """Stop and close the writer (flushes); re-raise what the thread hit."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(60)
        if self.error is not None:
            raise RuntimeError(f"live writer failed: {self.error!r}") from self.error

    def appended_at(self, count: int) -> float | None:
        """Epoch time when the ``count``-th row had been appended."""
        for when, total in self.written:
            if total >= count:
                return when
        return None


def _requests_card(text: str) -> int | None:
    """The "Requests" card's number in the page's text (None when absent)."""
    lines = text.split("\n")
    for i, line in enumerate(lines[:-1]):
        if line == "Requests":
            digits = lines[i + 1].replace(",", "")
            return int(digits) if digits.isdigit() else None
    return None


@dataclass(frozen=True)
class LiveReport:
    """What the browser saw while the writer ran."""

    rate: float
    seconds: float
    rows_written: int
    refreshes: int
    intervals_s: list[float]
    lags_s: list[float]
    writer_behind_s: float

    def lines(self) -> list[str]:
        """The report, one figure a line."""

        def stats(xs: list[float]) -> str:
            if not xs:
                return "n=0"
            xs = sorted(xs)
            p95 = xs[min(len(xs) - 1, round(0.95 * (len(xs) - 1)))]
            return (
                f"n={len(xs)} median {statistics.median(xs):.2f} s, p95 {p95:.2f} s, "
                f"max {xs[-1]:.2f} s"
            )

        return [
            f"live page under {self.rate:,.0f} rows/s for {self.seconds:.0f} s: "
            f"{self.rows_written:,} rows appended (writer at most {self.writer_behind_s:.2f} s "
            "behind its schedule)",
            f"  refreshes seen: {self.refreshes} (the page refreshes every 5 s)",
            f"  interval between refreshes: {stats(self.intervals_s)}",
            f"  lag newest row appended -> shown: {stats(self.lags_s)}",
        ]


def watch_live(page: Any, base_url: str, writer: LiveWriter, seconds: float) -> LiveReport:
    """Open ``/live`` on the writer's workspace, 15-minute range; watch for ``seconds``."""
    from bench._page_timing import quiet_state

    page.goto(base_url + "/live")
    quiet_state(page, quiet_ms=1000)
    page.locator(".bk-input-group", has_text="Workspace").locator("select").first.select_option(
        WORKSPACE
    )
    page.get_by_role("button", name="15m", exact=True).click()
    origin = float(page.evaluate("() => performance.timeOrigin")) / 1000.0
    seen: list[tuple[float, int]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        state = data_state(page)
        shown = _requests_card(state.text)
        if shown is not None and (not seen or shown != seen[-1][1]):
            seen.append((origin + state.paint_before(state.now) / 1000.0, shown))
        page.wait_for_timeout(100)
    seen = seen[1:]  # the first value predates the watch (workspace/range switch)
    lags = []
    for when, shown in seen:
        appended = writer.appended_at(shown)
        if appended is not None:
            lags.append(max(0.0, when - appended))
    intervals = [b[0] - a[0] for a, b in zip(seen, seen[1:], strict=False)]
    total = writer.written[-1][1] if writer.written else 0
    return LiveReport(writer.rate, seconds, total, len(seen), intervals, lags, writer.behind_s)
