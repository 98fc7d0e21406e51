"""Poison records: one bad record never takes down a batch, the flush or recovery."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from workbench.logstore import SCHEMA_VERSION, LogWriter, query, read_dead_letters, salvage_record
from workbench.logstore.normalize import normalize_record
from workbench.logstore.spool import encode_records

Records = Callable[..., list[dict[str, Any]]]  # the make_records fixture

LONE_SURROGATE = json.loads('"say \\ud800 hi"')  # what json.loads makes of a bad escape


def _ids(root: Path) -> list[str]:
    return query("SELECT request_id FROM requests ORDER BY request_id", root)[
        "request_id"
    ].to_list()


def test_poison_fields_are_nulled_and_the_batch_is_kept(root: Path, make_records: Records) -> None:
    batch = make_records(6)
    batch[1]["max_tokens"] = 3_000_000_000  # past int32
    batch[2]["seed"] = 2**70  # past int64
    batch[3]["prompt_tokens"] = "12"  # wrong type
    batch[4]["request_body"] = LONE_SURROGATE  # cannot be written as UTF-8
    with LogWriter(root) as writer:
        result = writer.append_batch(batch)
        assert result == {"accepted": 6, "duplicates": 0, "quarantined": 4}
        stats = writer.stats()
    assert stats["quarantined"] == 4 and stats["salvaged"] == 4 and stats["rejected"] == 0
    rows = {r["request_id"]: r for r in query("SELECT * FROM requests", root).to_dicts()}
    assert set(rows) == {f"r{i}" for i in range(6)}
    assert rows["r1"]["max_tokens"] is None and rows["r1"]["latency_ms"] == 250.0
    assert rows["r2"]["seed"] is None
    assert rows["r3"]["prompt_tokens"] is None and rows["r3"]["completion_tokens"] == 5
    assert rows["r4"]["request_body"] == "say \\ud800 hi"  # escaped, not lost
    assert rows["r0"]["prompt_tokens"] == 10  # the good records are untouched

    dead = {d["request_id"]: d for d in read_dead_letters(root)}
    assert set(dead) == {"r1", "r2", "r3", "r4"}
    assert all(d["action"] == "salvaged" and d["source"] == "writer" for d in dead.values())
    assert "max_tokens" in dead["r1"]["reasons"][0] and "int32" in dead["r1"]["reasons"][0]
    assert dead["r1"]["record"]["max_tokens"] == 3_000_000_000  # the original value kept
    assert dead["r2"]["record"]["seed"] == 2**70
    assert "prompt_tokens" in dead["r3"]["reasons"][0]
    assert "UTF-8" in dead["r4"]["reasons"][0]
    assert list((root / "deadletter").glob("writer-*.jsonl"))


def test_unusable_records_are_rejected_alone(root: Path, make_records: Records) -> None:
    good = make_records(3)
    batch: list[Any] = [
        good[0],
        {"received_at": 0, "status": "ok"},  # no request_id
        {"request_id": "no-time"},
        {"request_id": "bad-time", "received_at": 10**30},
        "not a record",
        good[1],
        {"request_id": "weird", "received_at": 0, "status": "maybe", "bogus": 1},
        good[2],
    ]
    with LogWriter(root) as writer:
        assert writer.append_batch(batch) == {"accepted": 4, "duplicates": 0, "quarantined": 5}
        assert writer.stats()["rejected"] == 4
    assert _ids(root) == ["r0", "r1", "r2", "weird"]
    weird = query("SELECT * FROM requests WHERE request_id = 'weird'", root).to_dicts()[0]
    assert weird["status"] is None
    dead = read_dead_letters(root)
    assert [d["action"] for d in dead].count("rejected") == 4
    by_id = {d["request_id"]: d for d in dead}
    assert "received_at" in by_id["bad-time"]["reasons"][-1]
    assert any("must be an object" in r for d in dead for r in d["reasons"])
    assert any("bogus" in r for r in by_id["weird"]["reasons"])


def test_resent_poison_is_not_dead_lettered_twice(root: Path, make_records: Records) -> None:
    batch = make_records(2)
    batch[0]["n"] = 10**6  # past int16
    with LogWriter(root) as writer:
        assert writer.append_batch(batch)["quarantined"] == 1
        again = writer.append_batch(batch)  # the shipper re-sent after a lost ack
    assert again == {"accepted": 0, "duplicates": 2, "quarantined": 0}
    assert len(read_dead_letters(root)) == 1


def test_spool_with_a_poison_record_replays(root: Path, make_records: Records) -> None:
    # a spool written by an older writer that let a bad value through
    good = make_records(3)
    bad = {"request_id": "old-bad", "received_at": 1_800_000_000, "response_body": LONE_SURROGATE}
    segment = root / "spool" / "seg-00000000000000000001-abcdef01.jsonl"
    segment.parent.mkdir(parents=True, exist_ok=True)
    segment.write_bytes(encode_records([normalize_record(r) for r in good]) + encode_records([bad]))
    with LogWriter(root) as writer:
        assert writer.stats()["recovered"] == 4
    assert _ids(root) == ["old-bad", "r0", "r1", "r2"]
    (entry,) = read_dead_letters(root)
    assert entry["source"] == "recovery" and entry["request_id"] == "old-bad"
    assert list((root / "spool").glob("seg-*")) == []


def test_flush_isolates_a_row_arrow_refuses(
    root: Path, make_records: Records, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The safety net behind salvage: a row that still fails at flush is set aside."""
    import workbench.logstore.writer as writer_mod

    real = writer_mod.salvage_record

    def let_one_through(d: Any) -> tuple[dict[str, Any] | None, list[str]]:
        rec, problems = real(d)
        if rec is not None and rec["request_id"] == "r1":
            rec["prompt_tokens"] = "not an int"  # what a normaliser bug would let through
        return rec, problems

    monkeypatch.setattr(writer_mod, "salvage_record", let_one_through)
    with LogWriter(root) as writer:
        writer.append(make_records(4))
        assert writer.flush() == 4
        assert writer.stats()["rejected"] == 1
    assert _ids(root) == ["r0", "r2", "r3"]
    (entry,) = read_dead_letters(root)
    assert entry["source"] == "flush" and entry["request_id"] == "r1"
    assert "arrow conversion failed" in entry["reasons"][0]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("latency_ms", 10**400),  # OverflowError in float()
        ("received_at", 10**20),  # OverflowError in fromtimestamp
        ("done_at", float("inf")),
        ("tags", ["ok", LONE_SURROGATE]),
        ("metadata", {(1, 2): "tuple key"}),
        ("endpoint", LONE_SURROGATE),
    ],
)
def test_strict_normalize_raises_only_value_error(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        normalize_record({"request_id": "a", "received_at": 0, field: value})
    rec, problems = salvage_record({"request_id": "a", "received_at": 0, field: value})
    if field == "received_at":
        assert rec is None
    else:
        assert rec is not None and problems and field in problems[0]


def test_salvage_without_problems_equals_normalize(make_records: Records) -> None:
    for raw in make_records(5, hours=3):
        rec, problems = salvage_record(raw)
        assert problems == [] and rec == normalize_record(raw)
    rec, _ = salvage_record({"request_id": "a", "received_at": datetime(2026, 1, 1, tzinfo=UTC)})
    assert rec is not None and rec["schema_version"] == SCHEMA_VERSION
