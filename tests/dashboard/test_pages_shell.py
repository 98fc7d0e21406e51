"""The shell and the live, cost, anomalies and guardrails pages in-process (no browser), on
the hand-made lake of tests/logs (830 known rows, moved to end an hour ago): each builder
renders, and the figures the pages show equal what the rows say."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from bokeh.document import Document

from tests.logs.conftest import RECORDS, write_log
from workbench.dashboard._app import nav_html, shell, who_html
from workbench.dashboard._context import DashboardContext, Principal
from workbench.dashboard._data import month_start
from workbench.dashboard._server import load_pages
from workbench.dashboard.pages import anomalies, cost, guardrails, live

NOW = datetime.now(UTC)
SHIFT = NOW - timedelta(hours=1) - max(r["received_at"] for r in RECORDS)
ROWS = [{**r, "received_at": r["received_at"] + SHIFT} for r in RECORDS]


@pytest.fixture
def lake(wb_home: Path) -> Path:
    root = wb_home / "logs"
    write_log(root, ROWS)
    return root


def ctx_for(lake: Path, role: str = "admin", workspace: str = "acme") -> DashboardContext:
    return DashboardContext(Principal("kid-1", workspace, role, "ana"), lake, lake.parent)


def render(viewable: Any) -> None:
    import panel as pn

    assert pn.Column(viewable).get_root(Document()) is not None


def test_every_page_loads_in_navigation_order() -> None:
    specs = load_pages()
    slugs = [s.slug for s in specs]
    assert slugs[:4] == ["live", "cost", "anomalies", "guardrails"]
    assert [s.order for s in specs] == sorted(s.order for s in specs)
    nav = nav_html(specs, "cost")
    for spec in specs:
        assert f'href="/{spec.slug}"' in nav
    assert 'href="/cost" aria-current="page"' in nav


def test_shell_names_the_principal_and_logout(lake: Path) -> None:
    ctx = ctx_for(lake, "analyst")
    text = who_html(ctx)
    assert "kid-1" in text and "analyst" in text and "workspace acme" in text
    assert 'href="/logout"' in text
    assert "all workspaces" in who_html(ctx_for(lake))
    specs = load_pages()
    template = shell(ctx, specs[0], specs)
    assert template.title == "LLM Workbench · Live traffic"
    render(template.main[0])


def test_live_known_answers(lake: Path) -> None:
    view = live.LiveView(ctx_for(lake))
    view.range.value = "24h"
    assert asyncio.run(view.refresh()) is True
    k = view.data.kpis if view.data else {}
    assert k["requests"] == len(ROWS)
    assert k["errors"] == sum(r["status"] == "error" for r in ROWS)
    assert k["blocks"] == sum(r["error_code"] == "guardrail_denied" for r in ROWS)
    assert k["tokens"] == sum(r["prompt_tokens"] + r["completion_tokens"] for r in ROWS)
    assert k["spend_usd"] == pytest.approx(sum(r["cost_usd"] for r in ROWS))
    hits = sum(r["cache_status"] == "hit" for r in ROWS)
    assert k["cache_hit_rate"] == pytest.approx(hits / len(ROWS))
    assert int(view.data.traffic["requests"].sum()) == len(ROWS) if view.data else False
    models = set(view.data.latency["model_served"].to_list()) if view.data else set()
    assert models == {"small", "large"}
    series = view.plots.series.data
    assert sum(series["errors"]) == k["errors"] and sum(series["blocks"]) == k["blocks"]
    assert sum(series["cost_usd"]) == pytest.approx(k["spend_usd"])
    bars, _ = view.plots.bars["latency"]
    assert sorted(bars.data["x"]) == sorted((m, q) for m in models for q in live.QUANTILES)
    assert view.cards[0].object.count(f"{len(ROWS):,}") == 1
    assert "(all workspaces)" in view.workspace.options and "acme" in view.workspace.options


def test_live_scopes_and_skips_a_tick_while_busy(lake: Path) -> None:
    view = live.LiveView(ctx_for(lake, "analyst", "globex"))
    view.range.value = "24h"
    asyncio.run(view.refresh())
    assert view.data is not None
    assert view.data.kpis["requests"] == sum(r["workspace"] == "globex" for r in ROWS)
    assert view.workspace.options == ["globex"] and not view.workspace.visible
    view.busy = True
    assert asyncio.run(view.refresh()) is False and view.skipped == 1
    render(live.build(ctx_for(lake)))


@pytest.mark.parametrize("group,field", [("model_served", "model_served"), ("key_id", "key_id")])
def test_cost_spend_by_known_answer(lake: Path, group: str, field: str) -> None:
    df = cost.spend_by(ctx_for(lake), group, "7d")
    got = dict(zip(df[group].to_list(), df["cost_usd"].to_list(), strict=True))
    want: dict[str, float] = {}
    for r in ROWS:
        want[r[field]] = want.get(r[field], 0.0) + r["cost_usd"]
    assert got == pytest.approx(want)


def test_cost_by_tag_and_scope(lake: Path) -> None:
    df = cost.spend_by(ctx_for(lake, "analyst", "acme"), "tag", "7d")
    got = dict(zip(df["tag"].to_list(), df["cost_usd"].to_list(), strict=True))
    want: dict[str, float] = {}
    for r in ROWS:
        if r["workspace"] == "acme":
            for t in r["tags"]:
                want[t] = want.get(t, 0.0) + r["cost_usd"]
    assert got == pytest.approx(want)
    with pytest.raises(ValueError):
        cost.spend_by(ctx_for(lake), "request_body", "7d")


def test_cost_headline_and_suggestions_scope(lake: Path) -> None:
    start = month_start()
    h = cost.headline(ctx_for(lake, "analyst", "acme"))
    want = sum(
        r["cost_usd"] for r in ROWS if r["workspace"] == "acme" and r["received_at"] >= start
    )
    assert h["month_to_date"] == pytest.approx(want)
    assert h["forecast"] is None and cost.suggestions_frame(ctx_for(lake, "analyst")) is None
    admin = cost.headline(ctx_for(lake))
    assert admin["month_to_date"] == pytest.approx(
        sum(r["cost_usd"] for r in ROWS if r["received_at"] >= start)
    )
    fc, mtd = admin["forecast"], admin["month_to_date"]
    assert fc is not None and mtd is not None and fc >= mtd
    render(cost._headline_view(ctx_for(lake)))
    render(cost._spend_view(ctx_for(lake), "Day", "7d"))


def test_guardrails_known_answers(lake: Path) -> None:
    ctx = ctx_for(lake)
    checks = guardrails.top_checks(ctx, "7d")
    by_check = dict(zip(checks["check"].to_list(), checks["requests"].to_list(), strict=True))
    denied = sum(r["error_code"] == "guardrail_denied" for r in ROWS)
    assert by_check == {"pii": denied, "jailbreak": sum(i % 7 == 0 for i in range(len(ROWS)))}
    rates = guardrails.verdict_rates(ctx, "7d")
    assert int(rates["blocks"].sum()) == denied
    total, rows = guardrails.review_queue(ctx, "7d")
    assert total > 0 and rows.height == min(total, 50)
    rid = rows["request_id"][0]
    assert rows["detail"][0] == f'<a href="/explorer?request_id={rid}">open</a>'
    render(guardrails._queue_view(ctx, "7d"))
    render(guardrails.build(ctx))


def test_guardrails_evaluation_results(lake: Path) -> None:
    ctx = ctx_for(lake)
    none = guardrails.evaluation_view(ctx)
    assert "No evaluation run yet" in none.object and "workbench guardrails eval" in none.object
    out = lake.parent / "guardrails" / "policy-eval.json"
    out.parent.mkdir(parents=True)
    metrics = [{"dataset": "(all)", "check": "(policy)", "n": 10, "precision": 0.9, "recall": 0.8}]
    out.write_text(json.dumps({"policy": {"id": "p1"}, "metrics": metrics}))
    view = guardrails.evaluation_view(ctx)
    assert "policy-eval.json" in view[0].object and "p1" in view[0].object
    assert view[1].value.to_dict("records") == metrics


def _record_alert(home: Path, level: str, entity: str) -> int:
    from workbench.analytics.anomalies import AlertStore, Anomaly

    hour = NOW.replace(minute=0, second=0, microsecond=0)
    a = Anomaly(
        level=level, entity=entity, metric="requests", start=hour - timedelta(hours=2),
        end=hour - timedelta(hours=1), severity="warn", direction="up", value=300.0,
        expected=100.0, lower=50.0, upper=150.0, z=7.0, detector="level", points=1,
    )  # fmt: skip
    alert, _ = AlertStore(home / "anomalies" / "alerts.db").record(a, NOW)
    return alert.id


def test_anomalies_scope_band_and_ack(lake: Path) -> None:
    home = lake.parent
    ours = _record_alert(home, "workspace", "acme")
    _record_alert(home, "workspace", "globex")
    _record_alert(home, "model", "small")
    admin = anomalies.AnomaliesView(ctx_for(lake))
    asyncio.run(admin.reload())
    assert len(admin.alerts) == 3
    analyst = anomalies.AnomaliesView(ctx_for(lake, "analyst", "acme"))
    asyncio.run(analyst.reload())
    assert [a.id for a in analyst.alerts] == [ours]
    alert = analyst.alerts[0]
    frame = anomalies.alert_series(analyst.ctx, alert)
    assert {"ts", "value", "lower", "upper"} <= set(frame.columns)
    assert frame["value"].sum() == sum(r["workspace"] == "acme" for r in ROWS)
    assert (frame["upper"].drop_nulls() >= frame["lower"].drop_nulls()).all()
    render(anomalies.band_chart(alert, frame))
    analyst.table.selection = [0]
    acked = analyst.act("ack")
    assert acked is not None and acked.status == "acknowledged"
    analyst.mute_for.value = "1 hour"
    muted = analyst.act("mute")
    assert muted is not None and muted.status == "muted" and muted.muted_until is not None


def test_anomalies_ack_needs_the_permission(lake: Path) -> None:
    _record_alert(lake.parent, "workspace", "acme")
    ctx = DashboardContext(Principal("k", "acme", "nobody"), lake, lake.parent)
    view = anomalies.AnomaliesView(ctx)
    asyncio.run(view.reload())
    view.table.selection = [0]
    assert not view.ack.visible and view.act("ack") is None
    assert view.alerts[0].status == "open"
    render(anomalies.build(ctx_for(lake)))
