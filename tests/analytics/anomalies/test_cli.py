"""``workbench anomalies`` on a temporary home with a real log."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from workbench.cli import main

from ._log import hourly, write


def test_detect_list_ack_mute(wb_home: Path) -> None:
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=72)
    write(wb_home / "logs", hourly(start, 70) + hourly(start + timedelta(hours=70), 2, errors=24))
    runner = CliRunner()
    out = runner.invoke(main, ["anomalies", "detect", "--since", "1d"])
    assert out.exit_code == 0, out.output
    assert "error_rate" in out.output and "workspace=ws-a" in out.output
    assert "3 anomalies" in out.output
    rows = runner.invoke(main, ["anomalies", "detect", "--since", "1d", "--json"])
    found = [json.loads(line) for line in rows.output.splitlines()]
    assert {(f["series"], f["metric"], f["direction"]) for f in found} == {
        ("workspace=ws-a", "error_rate", "up"),
        ("key=key-1", "error_rate", "up"),
        ("model=m1", "error_rate", "up"),
    }
    assert runner.invoke(main, ["anomalies", "list"]).output.strip() == "no alerts"
    # one watcher tick (no webhook) fills the alerts table
    tick = runner.invoke(main, ["anomalies", "watch", "--ticks", "1", "--fast-bucket", "off"])
    assert tick.exit_code == 0, tick.output
    assert "opened 3" in tick.output
    listed = runner.invoke(main, ["anomalies", "list", "--json"])
    alerts = [json.loads(line) for line in listed.output.splitlines()]
    assert len(alerts) == 3 and {a["status"] for a in alerts} == {"open"}
    first, second = alerts[0]["id"], alerts[1]["id"]
    acked = runner.invoke(main, ["anomalies", "ack", str(first), "--note", "on it"])
    assert acked.exit_code == 0 and "[acknowledged]" in acked.output
    muted = runner.invoke(main, ["anomalies", "mute", str(second), "--for", "8h"])
    assert muted.exit_code == 0 and "[muted]" in muted.output and "muted until" in muted.output
    only = runner.invoke(main, ["anomalies", "list", "--status", "open", "--json"])
    assert len(only.output.splitlines()) == 1
    missing = runner.invoke(main, ["anomalies", "ack", "9999"])
    assert missing.exit_code == 2 and "no alert with id 9999" in missing.output
