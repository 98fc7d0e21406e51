"""``workbench demo``: fills a fresh home, refuses a second time, --reset replaces."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner, Result

from workbench.cli import main
from workbench.logstore import LogWriter, query


def run(*args: str) -> Result:
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_demo_fills_refuses_and_resets(wb_home: Path) -> None:
    root = wb_home / "logs"
    first = run("demo", "--days", "2", "--rate", "200", "--seed", "3")
    assert first.exit_code == 0, first.output
    assert "rows (2 days, 200 requests/h, seed 3)" in first.output
    marker = json.loads((root / "_meta" / "demo.json").read_text())
    rows = query("select count(*) n, max(received_at) t from requests", root=root)
    assert rows["n"][0] == marker["rows"] > 1000
    assert (datetime.now(UTC) - rows["t"][0]).total_seconds() < 3600  # ends now

    again = run("demo", "--days", "2")
    assert again.exit_code == 2
    assert "demo data is already" in again.output and "--reset" in again.output
    assert query("select count(*) n from requests", root=root)["n"][0] == marker["rows"]

    reset = run("demo", "--days", "1", "--rate", "100", "--reset")
    assert reset.exit_code == 0, reset.output
    assert "replaced the earlier demo load" in reset.output
    now = json.loads((root / "_meta" / "demo.json").read_text())
    assert query("select count(*) n from requests", root=root)["n"][0] == now["rows"]
    assert now["rows"] < marker["rows"]


def test_demo_never_deletes_gateway_traffic(wb_home: Path) -> None:
    root = wb_home / "logs"
    with LogWriter(root) as w:
        w.append([{"request_id": "real-1", "received_at": datetime.now(UTC), "status": "ok"}])
    refused = run("demo", "--days", "1")
    assert refused.exit_code == 2 and "already holds traffic" in refused.output
    assert query("select count(*) n from requests", root=root)["n"][0] == 1


def test_demo_refuses_while_the_gateway_writes(wb_home: Path) -> None:
    with LogWriter(wb_home / "logs"):
        result = run("demo", "--days", "1")
    assert result.exit_code == 2
    assert "workbench down" in result.output
