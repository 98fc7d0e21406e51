"""Erasure tombstones: a late record of an erased user (received before the erasure,
arriving after it) never reaches the lake; newer requests of the same user do; the
tombstone survives a writer restart and expires."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from workbench.governance import audit
from workbench.governance.erasure import Selector, erase_with_writer
from workbench.home import logs_dir
from workbench.logstore import LogWriter
from workbench.logstore.tombstones import Tombstone, Tombstones, received_epoch


def rec(i: int, user: str, at: datetime, key: str = "k1", ws: str = "w1") -> dict[str, Any]:
    return {
        "request_id": f"t{i}",
        "received_at": at,
        "status": "ok",
        "workspace": ws,
        "key_id": key,
        "user": user,
        "request_body": json.dumps({"messages": [{"content": f"about {user}"}]}),
    }


def ids(root: Path) -> set[str]:
    src = f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true)"
    return {r[0] for r in duckdb.sql(f"SELECT request_id FROM {src}").fetchall()}


def test_late_records_of_an_erased_user_are_dropped(wb_home: Path) -> None:
    root = logs_dir()
    before = datetime.now(UTC) - timedelta(seconds=30)
    with LogWriter(root) as w:
        w.append([rec(1, "alice", before), rec(2, "bob", before)])
        w.flush()
        summary = erase_with_writer(w, Selector(user="alice"), actor="cli:test")
        assert summary["rows_removed"] == 1
        # in flight during the erasure: received before it, shipped after it
        late = [rec(3, "alice", before + timedelta(seconds=1)), rec(4, "bob", before)]
        result = w.append_batch(late)
        assert result["accepted"] == 1
        # a new request of the same user, received after the erasure, is new data
        w.append([rec(5, "alice", datetime.now(UTC) + timedelta(seconds=1))])
        w.flush()
        assert w.stats()["erased_late"] == 1
    assert ids(root) == {"t2", "t4", "t5"}
    entry = audit.entries(action="data.erase")[-1]
    assert entry.after["late_records_dropped_until"] > time.time() + 3600
    (tomb,) = Tombstones(root).active()
    assert tomb.match == {"user": "alice"} and tomb.dropped == 1


def test_tombstones_survive_a_writer_restart_and_match_all_columns(wb_home: Path) -> None:
    root = logs_dir()
    before = datetime.now(UTC) - timedelta(seconds=30)
    with LogWriter(root) as w:
        w.tombstones.add({"key_id": "k9", "workspace": "w2"}, keep_s=600)
    with LogWriter(root) as w:  # reopened: the tombstone is read back
        w.append(
            [
                rec(1, "x", before, key="k9", ws="w2"),  # dropped
                rec(2, "x", before, key="k9", ws="w3"),  # other workspace: kept
                rec(3, "x", before, key="k8", ws="w2"),  # other key: kept
            ]
        )
    assert ids(root) == {"t2", "t3"}


def test_expired_tombstones_are_forgotten(tmp_path: Path) -> None:
    stones = Tombstones(tmp_path)
    old = stones.add({"user": "u"}, keep_s=10, now=time.time() - 60)
    assert old.expires_at < time.time()
    assert Tombstones(tmp_path).active() == []
    kept, dropped = stones.screen([rec(1, "u", datetime.now(UTC) - timedelta(hours=1))])
    assert (len(kept), dropped) == (1, 0)


def test_tombstone_rules() -> None:
    with pytest.raises(ValueError):
        Tombstone(id="a", match={"workspace": "w"}, erased_at=0, expires_at=1)
    with pytest.raises(ValueError):
        Tombstone(id="a", match={"user": "u", "model": "m"}, erased_at=0, expires_at=1)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    assert received_epoch({"received_at": at}) == at.timestamp()
    assert received_epoch({"received_at": "2026-01-01T00:00:00Z"}) == at.timestamp()
    assert received_epoch({"received_at": "soon"}) is None
    tomb = Tombstone(id="a", match={"user": "u"}, erased_at=at.timestamp(), expires_at=2e9)
    assert tomb.covers({"user": "u", "received_at": at})
    assert tomb.covers({"user": "u"})  # no usable time: cannot be newer, dropped
    assert not tomb.covers({"user": "u", "received_at": at + timedelta(seconds=1)})
    assert not tomb.covers({"user": "v", "received_at": at})
