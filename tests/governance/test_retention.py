"""Retention on a real lake (real LogWriter, compaction, rollups) and body policies."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from workbench.errors import PermissionDeniedError
from workbench.governance import audit, datapolicy
from workbench.governance.permissions import APP, Principal, cli_principal, permissions_for
from workbench.governance.retention import apply_retention
from workbench.home import logs_dir
from workbench.logstore import LogWriter, compact, rollups
from workbench.logstore.deadletter import read_dead_letters

from .test_erasure import records, totals

NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def _ages(root: Path) -> list[tuple[str, int]]:
    src = f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true)"
    return duckdb.sql(
        f"SELECT workspace, date_diff('day', received_at, now())::INT AS d FROM {src}"
    ).fetchall()


def test_retention_removes_only_old_rows_of_that_workspace(wb_home: Path) -> None:
    root = logs_dir()
    old = records(400, base=NOW - timedelta(days=8))  # ~2.2 hours, 8 days ago
    new = records(400, start=400, base=NOW - timedelta(days=1))
    with LogWriter(root) as w:
        w.append(old)
        w.flush()
        w.append(new)
        w.append([records(1, start=5000, base=NOW - timedelta(days=8))[0] | {"max_tokens": 2**40}])
    compact(root, now=NOW)  # closed hours compacted; hour and day rollups written
    crashed = LogWriter(root)  # rows left in the spool by a crash, 9 days old
    crashed.append(records(20, start=7000, base=NOW - timedelta(days=9)))
    crashed._lock_fh.close()

    principal = cli_principal()
    datapolicy.set_policy("w0", principal, retention_days=3)
    summary = apply_retention(principal)

    ages = _ages(root)
    assert not [a for a in ages if a[0] == "w0" and a[1] >= 3]  # old w0 rows gone
    assert sum(1 for a in ages if a[0] == "w0") == sum(1 for r in new if r["workspace"] == "w0")
    w1_old = sum(1 for r in [*old, *records(20, start=7000)] if r["workspace"] == "w1")
    assert sum(1 for a in ages if a[0] == "w1" and a[1] >= 3) == w1_old  # w1 untouched
    removed = sum(1 for r in [*old, *records(20, start=7000)] if r["workspace"] == "w0")
    removed += 1  # r5000 (w0, salvaged: stored with max_tokens null, original dead-lettered)
    assert summary["rows_removed"] == removed
    assert summary["deadletter_removed"] == 1 and read_dead_letters(root) == []
    assert not list((root / "spool").glob("seg-*"))
    minute, _, raw_totals = totals(root)
    assert minute == raw_totals
    # every hour file left (refreshed by the rewrite) agrees with its hour's raw rows; an
    # hour that never had one (here: the crashed spool's, recovered into an old hour of a
    # day without a day file, depending on the clock) is read from its minute rollups
    # until the next compaction pass (workbench/logstore/rollups.py)
    per_hour = "date, hour, {}, sum(prompt_tokens), round(sum(cost_usd), 9) FROM {} GROUP BY 1, 2"
    hour_src = f"read_parquet('{rollups.hour_rollup_dir(root)}/*/*/*.parquet', hive_partitioning=1)"
    raw_src = f"read_parquet('{root}/requests/*/*/*.parquet', hive_partitioning=1, union_by_name=1)"
    hours = duckdb.sql("SELECT " + per_hour.format("sum(requests)", hour_src)).fetchall()
    raw = {
        r[:2]: r for r in duckdb.sql("SELECT " + per_hour.format("count(*)", raw_src)).fetchall()
    }
    assert hours and all(raw.get(h[:2]) == h for h in hours), (hours, raw)
    day = duckdb.sql(
        "SELECT CAST(minute AS DATE) AS d, sum(requests) FROM "
        f"read_parquet('{rollups.day_rollup_dir(root)}/*/*/*.parquet') GROUP BY d ORDER BY d"
    ).fetchall()
    assert (NOW - timedelta(days=8)).date() in {d for d, _ in day}  # a rewritten day
    raw_days = dict(
        duckdb.sql(
            "SELECT CAST(received_at AS DATE) AS d, count(*) FROM "
            f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true) GROUP BY d"
        ).fetchall()
    )
    assert day == [(d, raw_days[d]) for d, _ in day]  # day files agree with the raw rows
    (entry,) = audit.entries(action="data.retention.apply")
    assert entry.after["rows_removed"] == removed and "w0" in entry.after["cutoffs"]
    assert audit.verify().ok


def test_retention_drops_old_dead_letters(wb_home: Path) -> None:
    root = logs_dir()
    bad = records(2, start=11, base=NOW - timedelta(days=6))  # workspaces w1, w0
    with LogWriter(root) as w:
        w.append([r | {"max_tokens": 2**40} for r in bad])
    assert len(read_dead_letters(root)) == 2
    datapolicy.set_policy("w0", cli_principal(), retention_days=5)
    summary = apply_retention(cli_principal(), workspace="w0")
    assert summary["deadletter_removed"] == 1
    assert [e["record"]["workspace"] for e in read_dead_letters(root)] == ["w1"]


def test_retention_and_policy_need_data_manage(wb_home: Path) -> None:
    app = Principal(
        actor="key:x", role=APP, workspaces=frozenset({"w0"}), permissions=permissions_for(APP)
    )
    with pytest.raises(PermissionDeniedError):
        datapolicy.set_policy("w0", app, retention_days=1)
    with pytest.raises(PermissionDeniedError):
        apply_retention(app, workspace="w0")
    with pytest.raises(ValueError):
        datapolicy.set_policy("w0", cli_principal(), bodies="some")
    assert audit.entries() == []


def test_body_policies(wb_home: Path) -> None:
    rec = {
        "workspace": "w9",
        "request_body": json.dumps({"messages": [{"role": "user", "content": "hi Bob"}], "n": 1}),
        "response_body": "data: {...}",
        "request_original": None,
        "upstream_outputs": json.dumps([{"text": "secret", "prompt_tokens": 3}]),
        "bodies_stored": True,
        "request_masked": False,
        "output_masked": False,
    }
    assert datapolicy.apply_body_policy(dict(rec)) == rec  # no policy: full
    masked = datapolicy.apply_body_policy(dict(rec), "masked")
    assert json.loads(masked["request_body"]) == {
        "messages": [{"role": "[masked]", "content": "[masked]"}],
        "n": 1,
    }
    assert masked["response_body"] == "[masked]"
    assert json.loads(masked["upstream_outputs"]) == [{"text": "[masked]", "prompt_tokens": 3}]
    none = datapolicy.apply_body_policy(dict(rec), "none")
    assert none["bodies_stored"] is False
    assert [none[f] for f in datapolicy.BODY_FIELDS] == [None] * 4
    datapolicy.set_policy("w9", cli_principal(), bodies="none")
    assert datapolicy.body_mode("w9") == "none"  # a change clears this process's cache
    assert datapolicy.apply_body_policy(dict(rec))["request_body"] is None


async def test_body_policy_applies_at_record_time(wb_home: Path) -> None:
    """Through the real in-process pipeline: the record the recorder submits follows the
    workspace's body policy."""
    from tests.pipeline.conftest import gateway_config, in_process

    gw = await in_process(gateway_config("http://127.0.0.1:9/v1"))
    body = {"model": "echo", "messages": [{"role": "user", "content": "my secret plan"}]}
    try:
        assert (await gw.client.post("/v1/chat/completions", json=body)).status_code == 200
        full = gw.records.pop()
        assert "my secret plan" in full["request_body"] and full["bodies_stored"]
        workspace = full["workspace"]
        datapolicy.set_policy(workspace, cli_principal(), bodies="masked")
        await gw.client.post("/v1/chat/completions", json=body)
        masked = gw.records.pop()
        assert "my secret plan" not in json.dumps(masked)
        assert json.loads(masked["request_body"])["messages"][0]["content"] == "[masked]"
        datapolicy.set_policy(workspace, cli_principal(), bodies="none")
        await gw.client.post("/v1/chat/completions", json=body)
        none = gw.records.pop()
        assert none["request_body"] is None and none["response_body"] is None
        assert none["bodies_stored"] is False
    finally:
        await gw.client.aclose()


def test_the_sink_applies_retention_on_its_schedule(wb_home: Path) -> None:
    """lakeops.serve (the LogSink's maintenance thread) runs retention by itself."""
    import threading
    import time

    from workbench.governance import lakeops

    root = logs_dir()
    datapolicy.set_policy("w1", cli_principal(), retention_days=2)
    with LogWriter(root) as sink:
        sink.append(records(40, base=NOW - timedelta(days=4)))
        stop = threading.Event()
        kwargs = {"poll_s": 0.02, "retention_first_s": 0.0, "retention_interval_s": 3600.0}
        thread = threading.Thread(target=lakeops.serve, args=(sink, stop), kwargs=kwargs)
        thread.start()
        deadline = time.monotonic() + 60
        while not audit.entries(action="data.retention.apply") and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join()
    (entry,) = audit.entries(action="data.retention.apply")
    assert entry.actor == lakeops.SYSTEM_ACTOR and entry.after["rows_removed"] == 20
    assert [a for a in _ages(root) if a[0] == "w1"] == []
    assert len(_ages(root)) == 20
