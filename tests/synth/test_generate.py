"""workbench.synth.generate: schema, reproducibility, load shape, mix, prices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from workbench import synth
from workbench.logstore import normalize_record, schema
from workbench.pricing import load_prices

END = datetime(2026, 11, 16, tzinfo=UTC)  # a Monday, 00:00 UTC


def _all(days: float = 7, rate: float = 600, seed: int = 1) -> pa.Table:
    start = END - timedelta(days=days)
    return pa.concat_tables(synth.generate(start, END, rate_per_hour=rate, seed=seed))


@pytest.fixture(scope="module")
def week() -> pa.Table:
    return _all()


def test_tables_have_the_lake_schema_and_normalise(week: pa.Table) -> None:
    assert week.schema.equals(schema(), check_metadata=False)
    assert week.num_rows > 50_000
    rows = week.slice(0, 300).to_pylist()
    for row in rows:
        assert normalize_record(row)["request_id"] == row["request_id"]
    assert pc.count_distinct(week.column("request_id")).as_py() == week.num_rows
    received = week.column("received_at").to_numpy()
    assert (np.diff(received.astype("int64")) >= 0).all()


def test_json_columns_parse_and_verdicts_have_the_engine_shape(week: pa.Table) -> None:
    from workbench.guardrails._types import Verdict

    keys = list(Verdict("c", "v", "input", True, "none", 1.0).to_dict())
    sample = week.slice(0, 5000).to_pylist()
    for row in sample:
        for v in json.loads(row["guardrail_verdicts"]):
            assert list(v) == keys
        attempts = json.loads(row["routing_attempts"])
        assert len(attempts) == row["attempt_count"]
        assert row["request_original"] is None  # no input rewrites: request_body holds it
        if row["request_body"] is not None:
            body = json.loads(row["request_body"])
            assert body["model"] == row["model_requested"]
        if row["upstream_outputs"] is not None:
            out = json.loads(row["upstream_outputs"])
            assert out[0]["target"] == row["target"]
        if row["response_body"] is not None and not row["stream"]:
            assert json.loads(row["response_body"])["usage"]["total_tokens"] == row["total_tokens"]


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a, b, c = _all(1, 300, seed=5), _all(1, 300, seed=5), _all(1, 300, seed=6)
    assert a.equals(b)
    assert not a.column("request_id").equals(c.column("request_id"))


def test_load_shape_peaks_by_day_and_dips_at_weekends(week: pa.Table) -> None:
    support = week.filter(pc.equal(week.column("workspace"), "acme-support"))
    t = support.column("received_at").to_numpy().astype("datetime64[h]").astype(int)
    hour, day = t % 24, (t // 24 + 3) % 7  # 0 = Monday
    weekday = day < 5
    afternoon = np.sum(weekday & (hour >= 13) & (hour < 16)) / (5 * 3)
    night = np.sum(weekday & (hour >= 1) & (hour < 4)) / (5 * 3)
    assert afternoon > 4 * night
    per_weekday_day = np.sum(weekday) / 5
    per_weekend_day = np.sum(~weekday) / 2
    assert per_weekday_day > 2 * per_weekend_day


def test_mix_has_attacks_pii_errors_fallbacks_repeats_and_cache(week: pa.Table) -> None:
    rows = week.select(
        ["status", "error_code", "request_masked", "guardrail_verdicts", "cache_status",
         "attempt_count", "http_status", "request_body", "stream", "ttft_ms", "latency_ms"]
    ).to_pylist()  # fmt: skip
    n = len(rows)
    denied = [r for r in rows if r["error_code"] == "guardrail_denied"]
    assert all(r["http_status"] == 400 and r["status"] == "rejected" for r in denied)
    assert 0.005 < len(denied) / n < 0.05
    checks = {
        v["check"] for r in denied for v in json.loads(r["guardrail_verdicts"]) if not v["passed"]
    }
    assert checks == {"block-secrets", "prompt-injection", "jailbreak"}
    masked = sum(1 for r in rows if r["request_masked"])
    assert 0.01 < masked / n < 0.1
    assert any("<EMAIL_ADDRESS>" in (r["request_body"] or "") for r in rows)
    assert not any("jane.doe@example.com" in (r["request_body"] or "") for r in rows)
    codes = {r["error_code"] for r in rows}
    assert {"upstream_timeout", "upstream_error", "upstream_rate_limited"} <= codes
    assert sum(1 for r in rows if r["attempt_count"] == 2) > 50  # fallbacks
    hits = sum(1 for r in rows if r["cache_status"] == "hit")
    assert 0.1 < hits / n < 0.5
    texts = [json.loads(r["request_body"])["messages"][1]["content"] for r in rows
             if r["request_body"]]  # fmt: skip
    distinct = len(set(texts))
    assert distinct < 0.3 * len(texts)  # exact repeats
    assert sum(t.startswith("How can I reset my password") for t in texts) > 0  # paraphrase
    assert sum(t == "How do I reset my password?" for t in texts) > 100  # canonical
    streamed = [r for r in rows if r["stream"] and r["status"] == "ok"]
    assert np.median([r["ttft_ms"] / r["latency_ms"] for r in streamed]) < 0.5


def test_cost_is_priced_by_the_price_table(week: pa.Table) -> None:
    prices = load_prices()
    rows = week.filter(pc.equal(week.column("cache_status"), "miss")).slice(0, 2000).to_pylist()
    checked = 0
    for r in rows:
        if r["cost_usd"] is None:
            continue
        want = prices.cost(r["model_served"], r["provider"], r["prompt_tokens"],
                           r["completion_tokens"])  # fmt: skip
        assert r["cost_usd"] == pytest.approx(want)
        checked += 1
    assert checked > 1000
    assert set(week.column("price_table_version").unique().to_pylist()) == {prices.version}
