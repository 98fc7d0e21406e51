"""Dashboard aggregates on the hand-made log: known answers recomputed from the records."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from workbench import logs

from .conftest import BASE, RECORDS

SINCE, UNTIL = "2024-05-01T10:00:00Z", "2024-05-01T13:00:00Z"
RANGE = dict(since=SINCE, until=UNTIL)


def _blocked(r: dict) -> bool:
    return r["error_code"] == "guardrail_denied"


def test_traffic_per_bucket(lake: Path) -> None:
    t = logs.traffic(**RANGE, bucket="15m", root=lake)
    assert t.height == 12 and t["time"][0] == BASE
    want = Counter(int((r["received_at"] - BASE).total_seconds() // 900) for r in RECORDS)
    assert t["requests"].to_list() == [want[k] for k in range(12)]
    errors = Counter(
        int((r["received_at"] - BASE).total_seconds() // 900)
        for r in RECORDS
        if r["status"] == "error"
    )
    assert t["errors"].to_list() == [errors[k] for k in range(12)]
    assert t["blocks"].sum() == sum(map(_blocked, RECORDS)) > 0
    assert t["cache_hits"].sum() == sum(r["cache_status"] == "hit" for r in RECORDS)
    assert t["requests_per_s"][0] == pytest.approx(want[0] / 900)
    auto = logs.traffic(**RANGE, workspace="acme", root=lake)  # 3 h -> 1-minute buckets
    assert auto.height == 180
    assert auto["requests"].sum() == sum(r["workspace"] == "acme" for r in RECORDS)


def test_latency_percentiles_within_bucket_precision(lake: Path) -> None:
    lat = logs.latency(**RANGE, root=lake)
    assert set(lat["model_served"]) == {"small", "large"}
    for row in lat.iter_rows(named=True):
        rs = [r for r in RECORDS if r["model_served"] == row["model_served"]]
        values = np.array([r["latency_ms"] for r in rs])
        ttfts = np.array([r["ttft_ms"] for r in rs if r["ttft_ms"] is not None])
        assert row["requests"] == len(rs)
        assert row["latency_mean"] == pytest.approx(values.mean())
        assert row["latency_max"] == values.max()
        for q in (50, 95, 99):
            exact = np.percentile(values, q, method="inverted_cdf")
            assert abs(row[f"latency_p{q}"] - exact) <= 0.025 * exact
            exact_t = np.percentile(ttfts, q, method="inverted_cdf")
            assert abs(row[f"ttft_p{q}"] - exact_t) <= 0.025 * exact_t
    overall = logs.latency(**RANGE, by=None, root=lake)
    exact = np.percentile([r["latency_ms"] for r in RECORDS], 95, method="inverted_cdf")
    assert abs(overall["latency_p95"][0] - exact) <= 0.025 * exact


def test_spend_by_rollup_dimensions_and_raw_ones(lake: Path) -> None:
    got = logs.spend(**RANGE, root=lake)  # workspace x day
    want: dict[str, float] = defaultdict(float)
    for r in RECORDS:
        want[r["workspace"]] += r["cost_usd"]
    assert dict(zip(got["workspace"], got["cost_usd"], strict=True)) == pytest.approx(want)
    assert got["cost_usd"][0] == pytest.approx(max(want.values()))  # most expensive first
    by_user = logs.spend(**RANGE, by="user", root=lake)
    users: dict[str, float] = defaultdict(float)
    for r in RECORDS:
        users[r["user"]] += r["cost_usd"]
    assert dict(zip(by_user["user"], by_user["cost_usd"], strict=True)) == pytest.approx(users)
    by_tag = logs.spend(**RANGE, by=["tag"], workspace="globex", root=lake)
    tags: dict[str, float] = defaultdict(float)
    for r in RECORDS:
        if r["workspace"] == "globex":
            for tag in r["tags"]:
                tags[tag] += r["cost_usd"]
    assert dict(zip(by_tag["tag"], by_tag["cost_usd"], strict=True)) == pytest.approx(tags)
    hourly = logs.spend(**RANGE, by=["hour", "model_served"], root=lake)
    assert hourly.height == 6 and hourly["requests"].sum() == len(RECORDS)
    with pytest.raises(ValueError):
        logs.spend(by="client_ip", root=lake)


def test_top_keys_and_rates(lake: Path) -> None:
    top = logs.top_keys(**RANGE, n=2, order_by="cost_usd", root=lake)
    cost: dict[str, float] = defaultdict(float)
    for r in RECORDS:
        cost[r["key_id"]] += r["cost_usd"]
    best = sorted(cost, key=lambda k: -cost[k])[:2]
    assert top["key_id"].to_list() == best
    assert top["cost_usd"].to_list() == pytest.approx([cost[k] for k in best])
    rates = logs.rates(**RANGE, root=lake).row(0, named=True)
    n = len(RECORDS)
    assert rates["requests"] == n
    assert rates["error_rate"] == pytest.approx(sum(r["status"] == "error" for r in RECORDS) / n)
    assert rates["rejected_rate"] == pytest.approx(
        sum(r["status"] == "rejected" for r in RECORDS) / n
    )
    assert rates["block_rate"] == pytest.approx(sum(map(_blocked, RECORDS)) / n)
    assert rates["cache_hit_rate"] == pytest.approx(
        sum(r["cache_status"] == "hit" for r in RECORDS) / n
    )
    per_ws = logs.rates(**RANGE, by="workspace", model="small", root=lake)
    assert per_ws["requests"].sum() == sum(r["model_served"] == "small" for r in RECORDS)


def test_range_is_respected(lake: Path) -> None:
    since, until = BASE + timedelta(minutes=20), BASE + timedelta(minutes=80)
    got = logs.rates(since=since, until=until, root=lake)["requests"][0]
    assert got == sum(since <= r["received_at"] < until for r in RECORDS)
