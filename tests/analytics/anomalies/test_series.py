"""Series read from a real log lake (LogWriter -> Parquet -> DuckDB)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from workbench.analytics.anomalies import series

from ._log import record, write
from ._series import T0


def test_series_from_the_lake_with_known_values(wb_home: Path) -> None:
    root = wb_home / "logs"
    recs = [record(T0 + timedelta(minutes=m), total_tokens=100 + m) for m in range(0, 60, 6)]
    recs[0].update(status="error", http_status=502)
    recs[1].update(
        status="rejected", http_status=400, error_code="guardrail_denied", model_served=None
    )
    recs[2].update(cache_status="hit", latency_ms=2.0)
    recs[3].update(cache_status="bypass")
    # hour 1 is empty; hour 2 has one request from another workspace and key
    recs.append(record(T0 + timedelta(hours=2, minutes=5), workspace="ws-b", key_id="key-2"))
    write(root, recs)
    f = series(T0, T0 + timedelta(hours=3), root=root)

    def at(level: str, entity: str, metric: str, hour: int) -> tuple[float | None, float]:
        row = f.filter(
            (pl.col("level") == level)
            & (pl.col("entity") == entity)
            & (pl.col("metric") == metric)
            & (pl.col("ts") == T0 + timedelta(hours=hour))
        )
        assert row.height == 1, (level, entity, metric, hour)
        return row["value"][0], row["volume"][0]

    assert at("workspace", "ws-a", "requests", 0) == (10.0, 10.0)
    assert at("workspace", "ws-a", "error_rate", 0) == (0.1, 10.0)
    assert at("workspace", "ws-a", "block_rate", 0) == (0.1, 10.0)
    assert at("workspace", "ws-a", "cache_hit_rate", 0) == (1 / 9, 9.0)  # hit + 8 misses
    assert at("workspace", "ws-a", "cost", 0) == (pytest.approx(0.01), 10.0)
    value, volume = at("key", "key-1", "tokens_per_request", 0)  # ok requests: m = 12..54
    assert volume == 8 and value == 100 + sum(range(12, 60, 6)) / 8
    assert at("model", "m1", "requests", 0) == (10.0, 10.0)  # the block counts (requested)
    assert at("workspace", "ws-a", "p95_latency", 0)[1] == 7  # ok, not a cache hit
    # an empty hour: zero requests and spend, no rate
    assert at("workspace", "ws-a", "requests", 1) == (0.0, 0.0)
    assert at("workspace", "ws-a", "cost", 1) == (0.0, 0.0)
    assert at("workspace", "ws-a", "error_rate", 1) == (None, 0.0)
    # a series starts with its first request
    assert at("workspace", "ws-b", "requests", 2) == (1.0, 1.0)
    assert f.filter(
        (pl.col("entity") == "ws-b") & (pl.col("ts") < T0 + timedelta(hours=2))
    ).is_empty()
    five = series(
        T0,
        T0 + timedelta(hours=1),
        bucket="5m",
        root=root,
        levels=("workspace",),
        metrics=("requests",),
    )
    assert five.height == 12 and five["value"].to_list() == [1, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 0]
