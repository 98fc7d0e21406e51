"""The record schema (v2) and record normalisation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pyarrow as pa
import pytest

from workbench.logstore import (
    FIELD_DOCS,
    FIELD_NAMES,
    FIELDS,
    SCHEMA_VERSION,
    normalize_record,
    schema,
)


def test_schema_has_full_record() -> None:
    s = schema()
    assert SCHEMA_VERSION == 3
    assert len(s) >= 40
    assert s.names == list(FIELD_NAMES) == [f.name for f in FIELDS]
    assert not s.field("request_id").nullable and not s.field("received_at").nullable
    assert all(f.nullable for f in FIELDS if f.name not in {"request_id", "received_at"})
    assert s.field("received_at").type == pa.timestamp("us", tz="UTC")
    assert s.field("tags").type == pa.list_(pa.string())
    assert s.field("seed").type == pa.int64()
    assert s.field("http_status").type == pa.int16()
    assert s.metadata == {b"workbench.schema_version": b"3"}
    for name in ("request_original", "upstream_outputs"):
        assert s.field(name).type == pa.string()
    assert s.field("request_masked").type == s.field("output_masked").type == pa.bool_()
    assert s.field("cache_key").type == pa.string()
    assert s.field("cache_similarity").type == s.field("cost_saved_usd").type == pa.float64()


def test_every_field_documented() -> None:
    assert set(FIELD_DOCS) == set(FIELD_NAMES) | {"date", "hour"}
    assert all(doc and doc.strip() for doc in FIELD_DOCS.values())


def test_normalize_fills_and_converts() -> None:
    rec = normalize_record(
        {
            "request_id": "a",
            "received_at": 1_700_000_000.5,
            "first_byte_at": "2023-11-14T22:13:20.600Z",
            "done_at": datetime(2023, 11, 14, 22, 13, 21),  # naive: UTC
            "metadata": {"team": "x"},
            "guardrail_verdicts": [{"name": "len", "passed": True}],
            "routing_attempts": '[{"target": "a"}]',
            "tags": ("a", "b"),
            "latency_ms": 12,
            "prompt_tokens": 3.0,
        }
    )
    assert set(rec) == set(FIELD_NAMES)
    assert rec["received_at"] == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert rec["first_byte_at"] == datetime(2023, 11, 14, 22, 13, 20, 600000, tzinfo=UTC)
    assert rec["done_at"].tzinfo is UTC
    assert json.loads(rec["metadata"]) == {"team": "x"}
    assert json.loads(rec["guardrail_verdicts"]) == [{"name": "len", "passed": True}]
    assert rec["routing_attempts"] == '[{"target": "a"}]'
    assert rec["tags"] == ["a", "b"]
    assert rec["latency_ms"] == 12.0 and isinstance(rec["latency_ms"], float)
    assert rec["prompt_tokens"] == 3
    assert rec["schema_version"] == SCHEMA_VERSION
    assert rec["user"] is None
    # the result always converts to the Arrow schema
    assert pa.Table.from_pylist([rec], schema=schema()).num_rows == 1


def test_normalize_converts_offsets_to_utc() -> None:
    tz = timezone(timedelta(hours=2))
    rec = normalize_record({"request_id": "a", "received_at": datetime(2026, 1, 1, 1, tzinfo=tz)})
    assert rec["received_at"] == datetime(2025, 12, 31, 23, tzinfo=UTC)


def test_normalize_drops_partition_columns() -> None:
    rec = normalize_record({"request_id": "a", "received_at": 0, "date": "x", "hour": 3})
    assert "date" not in rec and "hour" not in rec


def test_normalize_rejects_unknown_keys_by_name() -> None:
    with pytest.raises(ValueError, match="bogus, zzz"):
        normalize_record({"request_id": "a", "received_at": 0, "zzz": 1, "bogus": 2})


@pytest.mark.parametrize("missing", ["request_id", "received_at"])
def test_normalize_requires_id_and_time(missing: str) -> None:
    rec = {"request_id": "a", "received_at": 0}
    del rec[missing]
    with pytest.raises(ValueError, match=missing):
        normalize_record(rec)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("prompt_tokens", "12"),
        ("prompt_tokens", True),
        ("http_status", 70000),
        ("stream", 1),
        ("status", "weird"),
        ("tags", "not-a-list"),
        ("tags", [1]),
        ("endpoint", 5),
        ("received_at", "yesterday"),
        ("latency_ms", "fast"),
    ],
)
def test_normalize_rejects_bad_values(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=field):
        normalize_record({"request_id": "a", "received_at": 0, field: value})
