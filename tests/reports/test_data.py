"""What the compliance report gathers (workbench.reports.collect and its parts) on the
hand-made history of tests/reports/_lake.py."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from pathlib import Path

import pytest

from tests.reports._lake import Lake, build
from workbench.reports import Period, collect, next_run, policies_in_force


@pytest.fixture
def lake(wb_home: Path) -> Lake:
    return build(wb_home)


def test_collect_summary_counts(lake: Lake) -> None:
    data = collect("7d", log_root=lake.root, detect_anomalies=False)
    s = data.summary()
    assert s["requests"] == 32
    assert s["requests with a failed guardrail check"] == 12
    assert s["denied by a guardrail"] == 5
    assert s["flagged (not blocked)"] == 3
    assert s["PII / secret incidents (requests)"] == 7
    assert s["redaction coverage"] == "85.7%"
    assert s["policy versions in force"] == 2
    assert s["policy changes"] == 2
    assert s["keys created"] == 2
    assert s["keys revoked"] == 1
    assert s["keys with traffic"] == 2


def test_key_activity(lake: Lake) -> None:
    keys = {r["key_id"]: r for r in collect("7d", log_root=lake.root,
                                           detect_anomalies=False).keys.to_dicts()}  # fmt: skip
    assert keys[lake.key_old]["requests"] == 25
    assert keys[lake.key_old]["created_in_period"] is False
    assert keys[lake.key_new]["requests"] == 7
    assert keys[lake.key_new]["created_in_period"] is True
    assert keys[lake.key_revoked]["revoked_in_period"] is True
    assert keys[lake.key_revoked]["status"] == "revoked"


def test_policies_in_force_and_who_published(lake: Lake) -> None:
    rows = policies_in_force(Period.of("7d"))
    assert [(r["version"], r["published_by"], r["message"]) for r in rows] == [
        ("default@v1", "alice", "publish 1"),
        ("default@v2", "bob", "publish 2"),
    ]
    assert rows[0]["live_until"] == rows[1]["live_from"]  # v2 replaced v1
    assert rows[1]["live_until"] is None  # still live at the end
    # a period that ended before the first publish: nothing was in force
    assert policies_in_force(Period.of("7d", datetime.now(UTC) - timedelta(days=1))) == []


def test_workspace_scope(lake: Lake) -> None:
    s = collect("7d", workspaces=["globex"], log_root=lake.root, detect_anomalies=False).summary()
    assert (s["requests"], s["denied by a guardrail"], s["flagged (not blocked)"]) == (7, 0, 3)


def test_period_validation() -> None:
    with pytest.raises(ValueError, match="not a time"):
        Period.of("soon")
    with pytest.raises(ValueError, match="empty"):
        Period.of("1d", "2d")


def test_next_run() -> None:
    now = datetime(2026, 5, 4, 10, 30, tzinfo=UTC)
    assert next_run(now, timedelta(days=1)) == now
    assert next_run(now, timedelta(days=1), time(11, 0)) == now.replace(hour=11, minute=0)
    assert next_run(now, timedelta(days=7), time(6, 0)) == datetime(2026, 5, 5, 6, tzinfo=UTC)


def test_retention_status(lake: Lake) -> None:
    from workbench.governance import audit

    audit.record("data.erase", actor="cli:dpo", target="user:u-1", workspace="globex",
                 after={"rows_removed": 3})  # fmt: skip
    data = collect("7d", log_root=lake.root, detect_anomalies=False)
    (acme,) = data.retention["policies"]
    assert (acme["workspace"], acme["retention"], acme["bodies"]) == ("acme", "7 days", "masked")
    assert acme["requests past the limit"] == 1  # the 10-day-old request
    ops = [(o["what"], o["workspace"], o["rows removed"]) for o in data.retention["operations"]]
    assert ops == [("data policy change", "acme", None), ("erasure", "globex", 3)]
    s = data.summary()
    assert s["requests kept past a retention limit"] == 1 and s["erasures"] == 1
    # scoped to globex: no policy of its own, only its erasure
    scoped = collect("7d", workspaces=["globex"], log_root=lake.root, detect_anomalies=False)
    assert scoped.retention["policies"] == []
    assert [o["what"] for o in scoped.retention["operations"]] == ["erasure"]
