"""Spend by dimension, month to date, cache savings: known answers on a hand-made log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from workbench.analytics.cost import cache_savings, month_to_date, spend
from workbench.pricing import PriceTable, Rate

from ._logs import record, write

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)


@pytest.fixture
def lake(wb_home: Path) -> Path:
    root = wb_home / "logs"
    t0 = NOW - timedelta(days=2)
    recs = [
        record(t0, workspace="ws-a", key_id="k1", user="u1", cost_usd=0.10, tags=["x", "y"]),
        record(
            t0 + timedelta(hours=1),
            workspace="ws-a",
            key_id="k2",
            user="u2",
            cost_usd=0.20,
            tags=["x"],
        ),
        record(
            t0 + timedelta(hours=1, minutes=5),
            workspace="ws-b",
            key_id="k3",
            user="u1",
            cost_usd=0.30,
            model_served="gpt-4o-mini",
        ),
        record(
            t0 + timedelta(days=1),
            workspace="ws-b",
            key_id="k3",
            user="u3",
            cost_usd=0.40,
            model_served="gpt-4o-mini",
            tags=["y"],
        ),
        # outside the 7-day window
        record(NOW - timedelta(days=9), workspace="ws-a", cost_usd=5.0),
        # after `until`
        record(NOW + timedelta(hours=1), workspace="ws-a", cost_usd=7.0),
    ]
    write(root, recs)
    return root


def _as_dict(df, dim: str) -> dict:
    return dict(
        zip(df[dim].to_list(), [round(c, 6) for c in df["cost_usd"].to_list()], strict=True)
    )


def test_spend_by_each_dimension(lake: Path) -> None:
    kw = {"since": "7d", "until": NOW, "now": NOW}
    assert _as_dict(spend(by="workspace", **kw), "workspace") == {"ws-b": 0.7, "ws-a": 0.3}
    assert _as_dict(spend(by="key", **kw), "key") == {"k3": 0.7, "k2": 0.2, "k1": 0.1}
    assert _as_dict(spend(by="user", **kw), "user") == {"u1": 0.4, "u3": 0.4, "u2": 0.2}
    assert _as_dict(spend(by="model", **kw), "model") == {"gpt-4o-mini": 0.7, "gpt-4o": 0.3}
    assert _as_dict(spend(by="tag", **kw), "tag") == {"x": 0.3, "y": 0.5, None: 0.3}
    by_day = spend(by="day", **kw)
    assert [str(d) for d in by_day["day"].to_list()] == ["2026-05-18", "2026-05-19"]
    assert [round(c, 6) for c in by_day["cost_usd"].to_list()] == [0.6, 0.4]
    by_hour = spend(by="hour", **kw)
    assert by_hour["requests"].to_list() == [1, 2, 1]
    assert [round(c, 6) for c in by_hour["cost_usd"].to_list()] == [0.1, 0.5, 0.4]
    ws = spend(by="workspace", **kw)
    assert [round(s, 6) for s in ws["share"].to_list()] == [0.7, 0.3]
    assert ws["requests"].to_list() == [2, 2]


def test_spend_by_two_dimensions_and_bad_dimension(lake: Path) -> None:
    df = spend(since="7d", until=NOW, by=["workspace", "model"], now=NOW)
    got = {(w, m): round(c, 6) for w, m, c in df.select("workspace", "model", "cost_usd").rows()}
    assert got == {("ws-b", "gpt-4o-mini"): 0.7, ("ws-a", "gpt-4o"): 0.3}
    with pytest.raises(ValueError, match="unknown dimension"):
        spend(by="colour", now=NOW)


def test_month_to_date(lake: Path) -> None:
    # May 1 .. NOW: the four windowed requests (the one 9 days back is May 11: counted too)
    assert month_to_date(now=NOW) == pytest.approx(1.0 + 5.0)
    by = month_to_date(by="workspace", now=NOW)
    assert _as_dict(by, "workspace") == {"ws-a": 5.3, "ws-b": 0.7}


def test_cache_savings_at_model_price(wb_home: Path) -> None:
    root = wb_home / "logs"
    t = NOW - timedelta(hours=3)
    write(
        root,
        [
            record(t, cache_status="hit", cost_usd=0.0, prompt_tokens=1000, completion_tokens=500),
            record(
                t,
                cache_status="semantic_hit",
                cost_usd=0.0,
                prompt_tokens=2000,
                completion_tokens=0,
                workspace="ws-b",
            ),
            record(t, cache_status="hit", cost_usd=0.0, model_served="mystery-model"),
            record(t, cache_status="miss", cost_usd=1.0),
        ],
    )
    prices = PriceTable(version="t", models={"gpt-4o": Rate(input=2.0, output=10.0)})
    total = cache_savings(since="1d", now=NOW, prices=prices)
    # 1000*2/1e6 + 500*10/1e6 = 0.007; 2000*2/1e6 = 0.004
    assert total["requests"][0] == 3
    assert total["saved_usd"][0] == pytest.approx(0.011)
    assert total["unpriced_requests"][0] == 1
    by_ws = cache_savings(since="1d", now=NOW, prices=prices, by="workspace")
    got = dict(zip(by_ws["workspace"].to_list(), by_ws["saved_usd"].to_list(), strict=True))
    assert got == pytest.approx({"ws-a": 0.007, "ws-b": 0.004})
