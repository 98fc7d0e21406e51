"""Sharded replay (worker processes) gives the in-process result; a failing worker fails
the replay; it works inside a running event loop."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from tests.analytics.replay._log import EXPECTED, POLICY_B, REQUESTS, config, record_log, write_log
from workbench.analytics.replay import ReplayResult, ReplayWorkerError, _workers, areplay, replay
from workbench.analytics.replay._workers import slice_rows
from workbench.logstore import query

COPIES = 30  # 20 requests x 30 = 600 rows: three slices of 250 rows for two workers
# guardrail latencies are measured, so they differ from run to run
SAME = [
    "request_id",
    "workspace",
    "model",
    "old",
    "new",
    "cell",
    "checks_old",
    "checks_new",
    "drivers",
    "cost_old",
    "cost_new",
    "approximate",
    "notes",
]


@pytest.fixture
def logged(wb_home: Path) -> dict[str, Any]:
    cfg = config()
    records = asyncio.run(record_log(cfg))
    rows = []
    for k in range(COPIES):
        for rec in records.values():
            r = dict(rec)
            r["request_id"] = f"{rec['request_id']}-{k:02d}"
            rows.append(r)
    write_log(wb_home / "logs", rows)
    return {"cfg": cfg, "root": wb_home / "logs", "rows": len(rows)}


def _cells(res: ReplayResult) -> dict[str, tuple[int, list[str]]]:
    return {name: (f.count, f.examples) for name, f in res.flips.items()}


def test_sharded_result_equals_the_in_process_result(
    logged: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert -(-logged["rows"] // slice_rows(logged["rows"], 2)) == 3
    one = replay(None, POLICY_B, config=logged["cfg"], progress=False, workers=1)
    monkeypatch.setattr(_workers, "can_fork", lambda: True)  # this test's thread is alone
    two = replay(None, POLICY_B, config=logged["cfg"], progress=False, workers=2)
    assert one.stats["workers"] == 1 and two.stats["workers"] == 2
    assert two.stats["start"] == "fork"  # workers forked from this process
    assert one.replayed == two.replayed == logged["rows"]
    assert one.frame.select(SAME).equals(two.frame.select(SAME))  # same rows, same order
    assert _cells(one) == _cells(two) and one.matrix() == two.matrix()
    assert one.by("check") == two.by("check") and one.by("workspace") == two.by("workspace")
    # the known answers, once per copy
    flips = {name: f.count for name, f in two.flips.items()}
    assert flips == {
        "allow->deny": 3 * COPIES,
        "deny->allow": COPIES,
        "redact->deny": COPIES,
        "allow->fallback": COPIES,
        "fallback->allow": COPIES,
        "allow->flag": COPIES,
    }
    rows = {r["request_id"]: r for r in two.rows}
    for label, (old, new, drivers) in EXPECTED.items():
        r = rows[f"req-{label}-17"]
        assert (r["old"], r["new"], r["drivers"]) == (old, new, drivers), label
    # each worker seeded its own memo from the logged verdicts and reused them
    assert two.stats["reuse"]["seeded"] >= one.stats["reuse"]["seeded"] > 0
    assert two.stats["reuse"]["hits"] > 0


def test_a_failing_worker_fails_the_replay(logged: dict[str, Any]) -> None:
    df = query("SELECT * FROM requests ORDER BY request_id", root=logged["root"])
    bad = json.dumps([{"check": "x", "passed": False, "latency_ms": "not a number"}])
    df = df.with_columns(
        pl.when(pl.col("request_id") == "req-kiwi-29")
        .then(pl.lit(bad))
        .otherwise(pl.col("guardrail_verdicts"))
        .alias("guardrail_verdicts")
    )
    with pytest.raises(ValueError):  # in process: the row's own error
        replay(df, POLICY_B, config=logged["cfg"], progress=False, workers=1)
    with pytest.raises(ReplayWorkerError, match=r"rows \d+-\d+: ValueError") as err:
        replay(df, POLICY_B, config=logged["cfg"], progress=False, workers=2)
    assert isinstance(err.value.__cause__, ValueError)


def test_sharded_inside_a_running_event_loop(logged: dict[str, Any]) -> None:
    async def notebook_cell() -> tuple[ReplayResult, ReplayResult]:
        sync = replay(None, POLICY_B, config=logged["cfg"], progress=False, workers=2)
        asynchronous = await areplay(
            None, POLICY_B, config=logged["cfg"], progress=False, workers=2
        )
        return sync, asynchronous

    sync, asynchronous = asyncio.run(notebook_cell())
    assert sync.stats["workers"] == asynchronous.stats["workers"] == 2
    # replay() in a running loop runs on a worker thread: never forked from there
    assert sync.stats["start"] == "forkserver"
    assert sync.changed == asynchronous.changed == 8 * COPIES
    assert sync.frame.select(SAME).equals(asynchronous.frame.select(SAME))
    assert len(REQUESTS) * COPIES == sync.replayed
