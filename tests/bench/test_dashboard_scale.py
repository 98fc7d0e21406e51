"""Smoke test of the dashboard scale bench's parts that need no browser: the live writer
appends through the real LogWriter into a temporary lake (every appended row readable,
in its own workspace, stamped now), the live page's "Requests" card is read from the page
text, and a results line says OVER when the p95 misses the 2 s target."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench._dashboard_live import WORKSPACE, LiveWriter, _requests_card
from bench.dashboard_scale import Timings


def test_live_writer_appends_rows_through_the_log_writer(tmp_path: Path) -> None:
    import duckdb

    root = tmp_path / "logs"
    writer = LiveWriter(root, rate=200, seed=3).start()
    deadline = time.monotonic() + 60
    while not writer.written and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)
    writer.stop()  # closes the LogWriter: every appended row is flushed
    appended = writer.written[-1][1]
    assert appended > 0
    con = duckdb.connect(":memory:")
    glob = str(root / "requests" / "**" / "*.parquet")
    rows = con.execute(
        f"SELECT count(*), count(DISTINCT request_id), min(workspace), max(workspace), "
        f"max(received_at) FROM read_parquet('{glob}', hive_partitioning=true)"
    ).fetchone()
    assert rows is not None
    count, distinct, ws_min, ws_max, newest = rows
    assert count == distinct == appended
    assert ws_min == ws_max == WORKSPACE
    assert datetime.now(UTC) - newest < timedelta(minutes=5)
    assert writer.appended_at(appended) is not None
    assert writer.appended_at(appended + 1) is None


def test_requests_card_is_read_from_the_page_text() -> None:
    text = "Last 15m (refreshing every 5 s).\nRequests\n12,345\nRequests/s\n13.72"
    assert _requests_card(text) == 12345
    assert _requests_card("Requests\n—\nRequests/s\n—") is None
    assert _requests_card("no cards yet") is None


def test_a_result_line_says_over_when_p95_misses_the_target() -> None:
    assert Timings([100.0, 200.0, 300.0]).row("live", "first render").split()[-1] == "ok"
    over = Timings([100.0, 200.0, 2500.0]).row("live", "first render")
    assert over.split()[-1] == "OVER"
    failed = Timings([], ["TimeoutError"]).row("cost", "group by model")
    assert "failed: TimeoutError" in failed
