"""The CacheIndex's own timings ($WORKBENCH_CACHE_TIMINGS) and how the gateway leg of
bench.cache matches them to the requests in flight (known answers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench._cache_gateway import GatewayRun, _read_timings
from bench._cache_latency import Timed
from tests.cache.test_semantic import _FakeEmbedder, _Handle


async def test_the_replica_writes_one_line_per_lookup(
    wb_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from serve.cache_index import CacheIndex

    path = tmp_path / "timings.jsonl"
    monkeypatch.setenv("WORKBENCH_CACHE_TIMINGS", str(path))
    replica = CacheIndex.func_or_class(_Handle(_FakeEmbedder()), str(wb_home))  # type: ignore[attr-defined]
    await replica.add("s", "hello", "k1", 4e9)
    await replica.lookup("s", "hello")
    await replica.lookup("empty scope", "hello")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert [(x["kind"], x["found"]) for x in lines] == [("lookup", 1), ("lookup", 0)]
    assert all(x["total_ms"] >= 0 and x["t"] > 0 for x in lines)
    assert _read_timings(path) == lines


def test_timings_are_matched_to_the_request_in_flight() -> None:
    def sample(kind: str, sent_at: float, ms: float, status: str) -> Timed:
        return Timed(kind, False, status, ms, ms, f"r{sent_at}", sent_at)

    samples = [
        sample("semantic hit", 100.0, 30.0, "semantic_hit"),  # 100.000 .. 100.030
        sample("semantic hit", 101.0, 40.0, "semantic_hit"),
        sample("semantic hit", 102.0, 40.0, "miss"),  # not served as meant: left out
        sample("miss", 103.0, 250.0, "miss"),
    ]
    inner = [
        {"kind": "embed", "t": 100.010, "encode_ms": 6.0},
        {"kind": "lookup", "t": 100.020, "total_ms": 10.0},
        {"kind": "embed", "t": 101.020, "encode_ms": 8.0},
        {"kind": "lookup", "t": 101.030, "total_ms": 14.0},
        {"kind": "lookup", "t": 102.010, "total_ms": 99.0},
        {"kind": "lookup", "t": 103.100, "total_ms": 50.0},
        {"kind": "lookup", "t": 104.000, "total_ms": 77.0},  # after every request: unmatched
    ]
    run = GatewayRun(samples, inner=inner)
    assert run.inner_p50("semantic hit", "lookup", "total_ms") == 12.0
    assert run.inner_p50("semantic hit", "embed", "encode_ms") == 7.0
    assert run.inner_p50("miss", "lookup", "total_ms") == 50.0
    assert run.inner_p50("exact hit", "lookup", "total_ms") != run.inner_p50(
        "exact hit", "lookup", "total_ms"
    )  # none: NaN
