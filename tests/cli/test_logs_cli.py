"""``workbench logs``: tail / follow / query through click's CliRunner."""

from __future__ import annotations

import csv
import importlib
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from workbench.cli import main

logstore = importlib.import_module("workbench.logstore")
# the module, not the click group that ``workbench.cli`` re-exports under the same name
logs_cli = importlib.import_module("workbench.cli.logs")

BASE = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def _record(i: int, **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "request_id": f"req-{i:03d}",
        "received_at": BASE + timedelta(seconds=i),
        "endpoint": "/v1/chat/completions",
        "model_requested": "tiny",
        "model_served": "tiny-llama",
        "provider": "local",
        "http_status": 200,
        "status": "ok",
        "latency_ms": 10.0 + i,
        "prompt_tokens": 5,
        "completion_tokens": 7,
        "cost_usd": 0.001 * i,
        "workspace": "team-a" if i % 2 else "team-b",
        "key_id": "abcdefghijkl",
    }
    record.update(extra)
    return record


def _write(root: Path, records: list[dict[str, Any]]) -> None:
    writer = logstore.LogWriter(root)
    try:
        writer.append(records)
        writer.flush()
    finally:
        writer.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.delenv("WORKBENCH_LOG_DIR", raising=False)
    return tmp_path


@pytest.fixture
def lake(home: Path) -> Path:
    root = home / "logs"
    _write(
        root,
        [
            _record(1),
            _record(2),
            _record(3, status="error", http_status=502, error_type="upstream_error"),
        ],
    )
    return root


def run(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def test_tail_table_newest_last(lake: Path) -> None:
    result = run("logs", "tail")
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("RECEIVED_AT") and "REQUEST_ID" in lines[0]
    assert [line.split()[2] for line in lines[1:]] == ["req-001", "req-002", "req-003"]
    assert "upstream_error" in lines[3]


def test_tail_n(lake: Path) -> None:
    result = run("logs", "tail", "-n", "2")
    rows = result.stdout.strip().splitlines()[1:]
    assert [r.split()[2] for r in rows] == ["req-002", "req-003"]


def test_tail_json_lines(lake: Path) -> None:
    result = run("logs", "tail", "-n", "2", "--json")
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.strip().splitlines()]
    assert [r["request_id"] for r in rows] == ["req-002", "req-003"]
    assert rows[1]["http_status"] == 502
    assert datetime.fromisoformat(rows[0]["received_at"]) == BASE + timedelta(seconds=2)


def test_tail_columns(lake: Path) -> None:
    result = run("logs", "tail", "--columns", "request_id,latency_ms")
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["REQUEST_ID", "LATENCY_MS"]
    assert lines[1].split() == ["req-001", "11"]


def test_tail_empty_lake(home: Path) -> None:
    result = run("logs", "tail")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "No requests" in result.stderr


def test_tail_follow_prints_new_rows(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    polls = {"n": 0}

    def fake_sleep(_: float) -> None:
        polls["n"] += 1
        if polls["n"] == 1:
            _write(lake, [_record(5), _record(4)])
        elif polls["n"] == 2:
            pass  # nothing new: nothing printed
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(logs_cli, "_sleep", fake_sleep)
    result = run("logs", "tail", "-n", "1", "--follow", "--json")
    assert result.exit_code == 0, result.output
    ids = [json.loads(line)["request_id"] for line in result.stdout.strip().splitlines()]
    assert ids == ["req-003", "req-004", "req-005"]


def test_tail_follow_table_keeps_one_header(lake: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    polls = {"n": 0}

    def fake_sleep(_: float) -> None:
        polls["n"] += 1
        if polls["n"] == 1:
            _write(lake, [_record(4)])
        else:
            raise KeyboardInterrupt

    monkeypatch.setattr(logs_cli, "_sleep", fake_sleep)
    result = run("logs", "tail", "-n", "1", "-f")
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("RECEIVED_AT")
    assert "req-003" in lines[1] and "req-004" in lines[2]


def test_query_table(lake: Path) -> None:
    sql = "SELECT workspace, count(*) AS n FROM requests GROUP BY 1 ORDER BY 1"
    result = run("logs", "query", sql)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].split() == ["WORKSPACE", "N"]
    assert lines[1].split() == ["team-a", "2"] and lines[2].split() == ["team-b", "1"]


def test_query_csv(lake: Path) -> None:
    sql = "SELECT request_id, received_at, error_type FROM requests ORDER BY request_id"
    result = run("logs", "query", sql, "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["request_id"] for r in rows] == ["req-001", "req-002", "req-003"]
    assert rows[0]["error_type"] == "" and rows[2]["error_type"] == "upstream_error"
    assert datetime.fromisoformat(rows[0]["received_at"]) == BASE + timedelta(seconds=1)


def test_query_json(lake: Path) -> None:
    sql = "SELECT request_id, cost_usd, latency_ms FROM requests ORDER BY request_id"
    result = run("logs", "query", sql, "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["request_id"] for r in rows] == ["req-001", "req-002", "req-003"]
    assert rows[2]["cost_usd"] == pytest.approx(0.003)


def test_query_empty_result(lake: Path) -> None:
    result = run("logs", "query", "SELECT request_id FROM requests WHERE false")
    assert result.exit_code == 0
    assert result.stdout.strip() == "REQUEST_ID"
    json_result = run("logs", "query", "SELECT 1 AS x WHERE false", "--format", "json")
    assert json.loads(json_result.stdout) == []


@pytest.mark.parametrize(
    "sql,fragment",
    [
        ("SELEC * FROM requests", "syntax error"),
        ("SELECT no_such_column FROM requests", "no_such_column"),
        ("SELECT * FROM no_such_table", "no_such_table"),
    ],
)
def test_query_sql_error_is_readable(lake: Path, sql: str, fragment: str) -> None:
    result = CliRunner().invoke(main, ["logs", "query", sql])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: query failed:")
    assert fragment in result.stderr
    assert result.stderr.count("\n") == 1


def test_log_dir_option_and_env(tmp_path: Path, home: Path) -> None:
    other = tmp_path / "shared-lake"
    _write(other, [_record(9)])
    by_option = run("logs", "--log-dir", str(other), "query", "SELECT request_id FROM requests")
    assert "req-009" in by_option.stdout
    by_env = run(
        "logs", "query", "SELECT request_id FROM requests", env={"WORKBENCH_LOG_DIR": str(other)}
    )
    assert "req-009" in by_env.stdout
    default = run("logs", "query", "SELECT count(*) AS n FROM requests")
    assert default.stdout.strip().splitlines()[1].strip() == "0"


def _files(root: Path) -> list[Path]:
    return sorted((root / "requests").rglob("*.parquet"))


def test_compact_merges_closed_hours(home: Path) -> None:
    root = home / "logs"
    for batch in range(4):  # one file per flush
        _write(root, [_record(10 * batch + i) for i in range(3)])
    assert len(_files(root)) == 4
    result = run("logs", "compact", "--json")
    report = json.loads(result.stdout)
    assert report["partitions"] == 1 and report["files_before"] == 4 and report["rows"] == 12
    assert len(_files(root)) == report["files_after"] == 1
    count = run(
        "logs", "query", "SELECT count(DISTINCT request_id) AS n, count(*) AS m FROM requests"
    )
    assert count.stdout.split()[-2:] == ["12", "12"]
    again = run("logs", "compact")
    assert again.stdout.startswith("compacted 0 partition(s)")


def test_compact_leaves_an_open_hour(home: Path) -> None:
    root = home / "logs"
    now = datetime.now(UTC)
    _write(root, [_record(1, received_at=now)])
    _write(root, [_record(2, received_at=now)])
    result = run("logs", "compact")
    assert result.stdout.startswith("compacted 0 partition(s)")
    assert "1 not closed yet" in result.stderr
    assert len(_files(root)) == 2


def test_compact_refuses_while_a_writer_holds_the_log(home: Path) -> None:
    writer = logstore.LogWriter(home / "logs")
    try:
        result = CliRunner().invoke(main, ["logs", "compact"])
    finally:
        writer.close()
    assert result.exit_code == 2
    assert "in use by a running gateway" in result.stderr
