"""``workbench cost report|suggest`` on a hand-made log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from workbench.cli import main

from ._logs import chat, record, write


def _log(root: Path) -> None:
    now = datetime.now(UTC)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    t = max(now - timedelta(hours=2), month)  # in this month: month to date counts it
    recs = [
        record(
            t + timedelta(seconds=i),
            body=chat("What is 2+2?", temperature=0),
            cost_usd=0.5,
            workspace=ws,
        )
        for i, ws in enumerate(["a", "a", "b"])
    ]
    write(root, recs)


def test_cost_report(wb_home: Path) -> None:
    _log(wb_home / "logs")
    res = CliRunner().invoke(main, ["cost", "report", "--since", "7d", "--by", "workspace"])
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[0].split()[:2] == ["WORKSPACE", "REQUESTS"]
    assert lines[1].split()[:2] == ["a", "2"] and "$1.0000" in lines[1]
    assert "month to date:" in res.output and "cache savings" in res.output
    res = CliRunner().invoke(main, ["cost", "report", "--since", "7d", "--json"])
    data = json.loads(res.stdout)
    assert {r["workspace"]: r["cost_usd"] for r in data["spend"]} == {"a": 1.0, "b": 0.5}
    assert data["forecast"]["month_to_date_usd"] >= 1.5


def test_cost_suggest_json(wb_home: Path) -> None:
    _log(wb_home / "logs")
    res = CliRunner().invoke(main, ["cost", "suggest", "--since", "7d", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)  # stderr may carry the encoder's loading progress
    exact = [s for s in data["suggestions"] if s["kind"] == "exact_cache"]
    assert len(exact) == 1 and exact[0]["requests"] == 1 and exact[0]["usd_window"] == 0.5
    res = CliRunner().invoke(main, ["cost", "report", "--by", "colour"])
    assert res.exit_code == 2
