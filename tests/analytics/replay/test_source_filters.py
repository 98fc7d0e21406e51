"""Replay's row filters are bound parameters: a quote in a value is data, not SQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from workbench.analytics.replay._source import Filters, _sql_for, load_rows
from workbench.logstore import LogWriter


def test_filters_are_bound_not_interpolated(wb_home: Path) -> None:
    root = wb_home / "logs"
    at = datetime(2026, 1, 1, 12, tzinfo=UTC)
    with LogWriter(root) as w:
        w.append(
            [
                {"request_id": "a", "received_at": at, "workspace": "ws-a", "endpoint": "x"},
                {"request_id": "b", "received_at": at, "workspace": "ws-b", "endpoint": "x"},
            ]
        )
        w.flush()
    sneaky = "ws-a' OR '1'='1"
    sql, params = _sql_for(None, Filters(workspace=sneaky))
    assert sneaky not in sql and params == [sneaky]
    assert load_rows(None, Filters(workspace=sneaky), root=root).height == 0
    got = load_rows(None, Filters(workspace="ws-a", since=at), root=root)
    assert got["request_id"].to_list() == ["a"]
