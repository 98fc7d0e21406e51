"""Erasure on a real lake written by the real LogWriter: only the selected rows go, the
other rows stay as they were, rollups agree with raw rows, and the audit log has the proof."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from workbench.errors import PermissionDeniedError
from workbench.governance import audit
from workbench.governance.erasure import erase
from workbench.governance.permissions import ANALYST, Principal, cli_principal, permissions_for
from workbench.home import logs_dir
from workbench.logstore import LogWriter, compact, rollups
from workbench.logstore.deadletter import read_dead_letters

BASE = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
_ROLLED = "sum(requests), sum(prompt_tokens), round(sum(cost_usd), 9)"
_RAW = "count(*), sum(prompt_tokens), round(sum(cost_usd), 9)"


def records(n: int, start: int = 0, base: datetime = BASE) -> list[dict[str, Any]]:
    """Rows over ~3 hours: users u0..u4, keys k0..k2, workspaces w0/w1, with bodies."""
    out = []
    for i in range(start, start + n):
        out.append(
            {
                "request_id": f"r{i}",
                "received_at": base + timedelta(seconds=20 * i),
                "status": "ok",
                "workspace": f"w{i % 2}",
                "key_id": f"k{i % 3}",
                "user": f"u{i % 5}" if i % 7 else None,
                "prompt_tokens": i % 40,
                "cost_usd": 0.001 * (i % 13),
                "request_body": json.dumps({"messages": [{"content": f"secret of {i}"}]}),
                "response_body": f"answer {i}",
                "bodies_stored": True,
            }
        )
    return out


def raw(root: Path, where: str = "true") -> list[tuple[Any, ...]]:
    src = f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true)"
    return duckdb.sql(
        f"SELECT * EXCLUDE (date, hour) FROM {src} WHERE {where} ORDER BY request_id"
    ).fetchall()


def totals(root: Path) -> tuple[list[Any], list[Any], list[Any]]:
    minute = f"read_parquet('{rollups.rollup_dir(root)}/*/*/*.parquet')"
    hour = f"read_parquet('{rollups.hour_rollup_dir(root)}/*/*/*.parquet')"
    src = f"read_parquet('{root}/requests/*/*/*.parquet', union_by_name = true)"
    return (
        duckdb.sql(f"SELECT {_ROLLED} FROM {minute}").fetchall(),
        duckdb.sql(f"SELECT {_ROLLED} FROM {hour}").fetchall(),
        duckdb.sql(f"SELECT {_RAW} FROM {src}").fetchall(),
    )


@pytest.fixture
def lake(wb_home: Path) -> Path:
    root = logs_dir()
    recs = records(600)
    with LogWriter(root) as w:
        for k in range(0, 600, 150):
            w.append(recs[k : k + 150])
            w.flush()
        # a record that dead-letters (salvaged: max_tokens out of range) for user u1
        w.append([records(1, start=1000)[0] | {"user": "u1", "max_tokens": 2**40}])
    compact(root, now=BASE + timedelta(days=2))  # compacted files + hour and day rollups
    assert rollups.hour_rollup_dir(root).exists()
    return root


def test_erase_user_removes_only_their_rows(lake: Path) -> None:
    before_other = raw(lake, "\"user\" IS DISTINCT FROM 'u1'")
    assert raw(lake, "\"user\" = 'u1'")
    assert any(e["record"].get("user") == "u1" for e in read_dead_letters(lake))

    summary = erase(cli_principal(), user="u1")

    assert raw(lake, "\"user\" = 'u1'") == []
    assert raw(lake, "\"user\" IS DISTINCT FROM 'u1'") == before_other  # same content
    assert summary["rows_removed"] == sum(1 for r in records(600) if r["user"] == "u1") + 1
    assert summary["deadletter_removed"] == 1
    assert not any(e["record"].get("user") == "u1" for e in read_dead_letters(lake))
    minute, hour, raw_totals = totals(lake)
    assert minute == raw_totals and hour == raw_totals  # dashboards agree with raw rows
    # the proof: selector, rows per partition, file hashes; never the erased data
    (entry,) = audit.entries(action="data.erase")
    assert entry.actor.startswith("cli:") and entry.source == "cli"
    assert entry.after["selector"] == {"user": "u1"}
    assert sum(entry.after["by_partition"].values()) == summary["rows_removed"]
    for f in entry.after["files"]:
        assert len(f["sha256_before"]) == 64 and f["sha256_before"] != f["sha256_after"]
    text = json.dumps(entry.to_dict())
    assert "secret of" not in text and "answer " not in text
    assert audit.verify().ok


def test_erase_key_in_one_workspace(lake: Path) -> None:
    kept_elsewhere = raw(lake, "key_id = 'k0' AND workspace = 'w1'")
    erase(cli_principal(), key_id="k0", workspace="w0")
    assert raw(lake, "key_id = 'k0' AND workspace = 'w0'") == []
    assert raw(lake, "key_id = 'k0' AND workspace = 'w1'") == kept_elsewhere != []


def test_erasure_needs_data_manage(lake: Path) -> None:
    analyst = Principal(
        actor="key:a1", role=ANALYST, workspaces=frozenset({"w0"}),
        permissions=permissions_for(ANALYST), key_id="a1", workspace="w0",
    )  # fmt: skip
    with pytest.raises(PermissionDeniedError):
        erase(analyst, user="u1", workspace="w0")
    assert raw(lake, "\"user\" = 'u1'")
    assert audit.entries(action="data.erase") == []


def test_erase_while_the_writer_is_writing(wb_home: Path) -> None:
    """A writer thread appends and flushes while the erasure goes through the same
    writer: nothing lost, nothing duplicated, the user's earlier rows gone."""
    from workbench.governance.erasure import Selector
    from workbench.logstore.rewrite import remove_rows

    root = logs_dir()
    now = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=30)
    first = records(300, base=now)
    later = [r | {"user": "late"} for r in records(400, start=300, base=now)]
    with LogWriter(root) as w:
        w.append(first)
        w.flush()
        w.append(records(50, start=2000, base=now))  # in the spool when the erasure starts
        stop = threading.Event()

        def produce() -> None:
            for k in range(0, 400, 20):
                w.append(later[k : k + 20])
                w.maybe_flush()
            stop.set()

        thread = threading.Thread(target=produce)
        thread.start()
        sel = Selector(user="u2")
        while not stop.is_set():
            remove_rows(w, sel.expression(), sel.matches)
        thread.join()
        report = remove_rows(w, sel.expression(), sel.matches)
        assert report.rows_removed == 0  # the earlier passes got them all
    ids = [r[0] for r in duckdb.sql(
        f"SELECT request_id FROM read_parquet('{root}/requests/*/*/*.parquet')"
    ).fetchall()]  # fmt: skip
    assert len(ids) == len(set(ids))  # nothing duplicated
    expected = {r["request_id"] for r in [*first, *records(50, start=2000), *later]}
    expected -= {r["request_id"] for r in [*first, *records(50, start=2000)] if r["user"] == "u2"}
    assert set(ids) == expected  # nothing lost, u2's rows gone
    minute = duckdb.sql(
        f"SELECT sum(requests) FROM read_parquet('{rollups.rollup_dir(root)}/*/*/*.parquet')"
    ).fetchall()
    assert minute == [(len(expected),)]
