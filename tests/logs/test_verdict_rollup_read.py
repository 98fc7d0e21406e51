"""governance.violations / violating_requests read the verdict rollup for whole hours and
raw rows for the edge hours: equal to the failed verdicts recounted in Python from the
hand-made records (tests/logstore/_verdict_records.py), whatever the window cuts."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.logstore._verdict_records import BASE, RECORDS, Key, expected, write
from workbench.logs import governance as gov
from workbench.logs._filters import Filters
from workbench.logs._verdict_read import plan
from workbench.logstore._rollup_verdicts import verdict_dir


@pytest.fixture
def root(wb_home: Path) -> Path:
    root = wb_home / "logs"
    write(root)
    return root


def _got(
    root: Path, since: datetime, until: datetime, ws: list[str] | None = None
) -> tuple[dict[Key, tuple[int, int]], int]:
    df = gov.violations(since, until, workspace=ws, root=root)
    assert df.columns == ["check", "validator", "stage", "action", "mode", "verdicts", "requests"]
    assert df["requests"].to_list() == sorted(df["requests"].to_list(), reverse=True)
    rows = {tuple(r[:5]): (r[5], r[6]) for r in df.iter_rows()}
    return rows, gov.violating_requests(since, until, workspace=ws, root=root)


def _files(root: Path, since: datetime, until: datetime) -> tuple[int, int]:
    rolled, raw = plan(root, Filters.of(since, until))
    assert all(verdict_dir(root) in p.parents for p in rolled)
    return len(rolled), len(raw)


def test_whole_hours_read_the_rollup_only(root: Path) -> None:
    since, until = BASE + timedelta(hours=1), BASE + timedelta(hours=4)
    n_rolled, n_raw = _files(root, since, until)
    assert n_rolled > 3 and n_raw == 0
    assert _got(root, since, until) == expected(RECORDS, since, until)
    whole = _got(root, BASE, BASE + timedelta(hours=5))
    assert whole == expected(RECORDS)
    assert whole[0][("toxicity", "toxicity", "stream", "deny", "enforce")] == (184, 92)


@pytest.mark.parametrize(
    ("start_min", "end_min"), [(17, 223), (0, 59), (61, 119), (30, 271), (119, 241)]
)
def test_edge_hours_read_raw_rows(root: Path, start_min: int, end_min: int) -> None:
    since, until = BASE + timedelta(minutes=start_min), BASE + timedelta(minutes=end_min)
    assert _got(root, since, until) == expected(RECORDS, since, until)
    assert _files(root, since, until)[1] > 0  # the cut hours come from raw rows


def test_workspaces(root: Path) -> None:
    since, until = BASE + timedelta(minutes=17), BASE + timedelta(minutes=281)
    for ws in (["w0"], ["w1", "w2"], ["nobody"]):
        assert _got(root, since, until, ws) == expected(RECORDS, since, until, ws)
    assert _got(root, since, until, ["w1"]) != _got(root, since, until, ["w2"])


def test_a_missing_rollup_file_reads_that_hour_raw(root: Path) -> None:
    since, until = BASE, BASE + timedelta(hours=5)
    rolled, _ = _files(root, since, until)
    next(verdict_dir(root).glob("date=*/hour=12/*.parquet")).unlink()
    assert _files(root, since, until)[0] < rolled
    assert _got(root, since, until) == expected(RECORDS)


def test_empty_window(root: Path) -> None:
    since = BASE - timedelta(days=3)
    df = gov.violations(since, since + timedelta(hours=2), root=root)
    assert df.height == 0
    assert gov.violating_requests(since, since + timedelta(hours=2), root=root) == 0


def _flagged_ids(since: datetime, until: datetime, ws: list[str] | None) -> list[str]:
    """Flagged requests (a failed flag / non-enforce verdict), newest first."""
    out = []
    for r in RECORDS:
        if not (since <= r["received_at"] < until) or (ws and r["workspace"] not in ws):
            continue
        failed = [v for v in r["guardrail_verdicts"] or [] if v.get("passed") is False]
        if any(v["action"] == "flag" or v.get("mode", "enforce") != "enforce" for v in failed):
            out.append((r["received_at"], r["request_id"]))
    return [i for _, i in sorted(out, reverse=True)]


@pytest.mark.parametrize(
    ("start_min", "end_min", "ws", "limit"),
    [(0, 300, None, 5), (17, 223, None, 50), (30, 271, ["w1"], 7), (61, 62, None, 3)],
)
def test_flagged_queue_total_and_newest(
    root: Path, start_min: int, end_min: int, ws: list[str] | None, limit: int
) -> None:
    since, until = BASE + timedelta(minutes=start_min), BASE + timedelta(minutes=end_min)
    want = _flagged_ids(since, until, ws)
    total, rows = gov.blocked_requests("flagged", since, until, ws, limit=limit, root=root)
    assert total == len(want)
    assert rows["request_id"].to_list() == want[:limit]
    assert all("watch:flag" in c.split(", ") for c in rows["checks"].to_list())


def test_cli_rebuild_restores_the_verdict_rollup(root: Path) -> None:
    import shutil

    from click.testing import CliRunner

    from workbench.cli import main

    since, until = BASE, BASE + timedelta(hours=5)
    shutil.rmtree(verdict_dir(root))
    assert _files(root, since, until)[0] == 0  # every hour reads raw rows now
    result = CliRunner().invoke(main, ["logs", "rollups", "rebuild"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert _files(root, since, until)[1] == 0  # ... and the rollup again after the rebuild
    assert _got(root, since, until) == expected(RECORDS)
