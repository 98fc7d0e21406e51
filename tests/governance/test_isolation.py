"""Workspace isolation with real keys: a key of workspace A can never read, replay,
cache-hit or spend against workspace B (budget isolation itself: tests/limits)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.analytics.replay._log import POLICY_A, POLICY_B_YAML, config, record_log
from tests.analytics.replay._log import write_log as write_replay_log
from tests.cache.cache_rig import FakeBackend, FlatPrices, Rig, TinyIndex
from tests.logs.conftest import RECORDS, write_log
from tests.pipeline.test_routing_path import OnePolicy
from workbench.cache.store import SqliteEntryStore
from workbench.config.gateway import parse_config
from workbench.dashboard import _data
from workbench.dashboard import _policy_ops as ops
from workbench.dashboard._auth import KeyAuth
from workbench.dashboard._context import DashboardContext
from workbench.dashboard._explorer_data import (
    ExplorerFilters,
    ScopeError,
    fetch_page,
    request_detail,
)
from workbench.gateway.app import create_app
from workbench.keys import KeyStore
from workbench.pipeline import build_pipeline
from workbench.policy import Policy, PolicyStore
from workbench.policy.loader import parse_policy

LAKE_SINCE, LAKE_UNTIL = "2024-05-01T00:00:00Z", "2024-05-02T00:00:00Z"
Q = {"messages": [{"role": "user", "content": "what is the capital of France"}]}
SEM = {"cache": {"enabled": True, "semantic": {"enabled": True}}}


async def _login(store: KeyStore, key: str, lake: Path, home: Path, **extra: Any) -> Any:
    """The dashboard context of a key, through the real login path."""
    principal = await KeyAuth(store).login(key)
    assert principal is not None
    return DashboardContext(principal, lake, home, extra=extra)


# ---------------------------------------------------------------- read: admin REST API


async def test_rest_reads_stay_in_the_workspace(wb_home: Path) -> None:
    cfg = parse_config(
        {"gateway": {"require_auth": True}, "models": [{"name": "echo", "provider": "echo"}]}
    )
    with KeyStore() as store:
        _, key_a = store.create("acme", role="policy-author", grants=["logs:bodies"])
        rec_b, _ = store.create("globex", role="analyst")
        gp = build_pipeline(cfg, submit_record=lambda r: None, auth=store)
        transport = httpx.ASGITransport(app=create_app(gp))
        async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
            h = {"authorization": f"Bearer {key_a}"}
            listed = (await c.get("/admin/v1/workspaces", headers=h)).json()["data"]
            assert [w["name"] for w in listed] == ["acme"]
            for path in ("/admin/v1/workspaces/globex", f"/admin/v1/keys/{rec_b.key_id}",
                         "/admin/v1/keys?workspace=globex", "/admin/v1/keys"):  # fmt: skip
                r = await c.get(path, headers=h)
                assert r.status_code == 403, (path, r.text)
                assert r.json()["error"]["type"] == "permission_error"


# ---------------------------------------------------------------- read: dashboard data


@pytest.fixture
def lake(wb_home: Path) -> Path:
    root = wb_home / "logs"
    write_log(root, [{**r, "bodies_stored": True} for r in RECORDS])
    return root


async def test_dashboard_data_functions_stay_in_the_workspace(wb_home: Path, lake: Path) -> None:
    acme_ids = {r["request_id"] for r in RECORDS if r["workspace"] == "acme"}
    globex_id = next(r["request_id"] for r in RECORDS if r["workspace"] == "globex")
    acme_id = next(iter(sorted(acme_ids)))
    with KeyStore() as store:
        _, analyst = store.create("acme", role="analyst")
        _, granted = store.create("acme", role="analyst", grants=["logs:bodies"])
        _, admin = store.create("acme", role="admin")
        ctx = await _login(store, analyst, lake, wb_home)
        ctx_bodies = await _login(store, granted, lake, wb_home)
        ctx_admin = await _login(store, admin, lake, wb_home)
    assert ctx.workspaces == ("acme",) and ctx_admin.workspaces is None
    with pytest.raises(ScopeError):
        fetch_page(ctx, ExplorerFilters(since=LAKE_SINCE, until=LAKE_UNTIL, workspace="globex"))
    page = fetch_page(ctx, ExplorerFilters(since=LAKE_SINCE, until=LAKE_UNTIL), size=1000)
    assert page.total == len(acme_ids) and set(page.rows["workspace"]) == {"acme"}
    assert request_detail(ctx, globex_id, LAKE_SINCE, LAKE_UNTIL) is None
    assert request_detail(ctx_admin, globex_id, LAKE_SINCE, LAKE_UNTIL) is not None
    spend = _data.spend(str(lake), ctx.workspaces, LAKE_SINCE, ("workspace",))
    assert set(spend["workspace"]) == {"acme"}
    everyone = _data.spend(str(lake), ctx_admin.workspaces, LAKE_SINCE, ("workspace",))
    assert set(everyone["workspace"]) == {"acme", "globex"}
    # bodies: the role alone does not give them, the explicit grant does
    plain = request_detail(ctx, acme_id, LAKE_SINCE, LAKE_UNTIL)
    shown = request_detail(ctx_bodies, acme_id, LAKE_SINCE, LAKE_UNTIL)
    assert plain is not None and plain.bodies is None
    assert shown is not None and shown.bodies is not None


# ---------------------------------------------------------------- replay


async def test_replay_uses_only_the_keys_workspace(wb_home: Path) -> None:
    cfg = config()
    records = await record_log(cfg)
    lake = wb_home / "logs"
    write_replay_log(lake, list(records.values()))
    PolicyStore(wb_home / "policies").publish(Policy.model_validate(POLICY_A), "v1", author="setup")
    with KeyStore() as store:
        _, key = store.create("ws-a", role="policy-author")
        ctx = await _login(store, key, lake, wb_home, gateway_config=cfg)
    rows = ops.recent_rows(ctx)
    assert set(rows["workspace"]) == {"ws-a"}
    assert 0 < rows.height < len(records)
    candidate = POLICY_B_YAML.replace("id: policy-b", "id: policy-a")
    preview = await asyncio.to_thread(
        ops.replay_preview, ctx, parse_policy(yaml.safe_load(candidate))
    )
    assert preview.result.replayed == rows.height
    assert {r["workspace"] for r in preview.result.rows} == {"ws-a"}


# ---------------------------------------------------------------- cache


async def _cache_rig(tmp: Path, store: KeyStore, policy: dict[str, Any]) -> Rig:
    cfg = parse_config(
        {"gateway": {"require_auth": True}, "models": [{"name": "main", "provider": "echo"}]}
    )
    backends = {"main": FakeBackend()}
    entries = SqliteEntryStore(tmp / "entries.db")
    records: list[dict[str, Any]] = []
    gp = build_pipeline(
        cfg, submit_record=records.append, hosted=dict(backends), auth=store,
        prices=FlatPrices(), policies=OnePolicy(policy), cache_store=entries,
        semantic_index=TinyIndex(),
    )  # fmt: skip
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(gp)),
                               base_url="http://gw")  # fmt: skip
    return Rig(gp, client, backends, entries, records)


@pytest.mark.parametrize("policy", [{"cache": {"enabled": True}}, SEM], ids=["exact", "semantic"])
async def test_a_cached_answer_never_crosses_workspaces(
    wb_home: Path, tmp_path: Path, policy: dict[str, Any]
) -> None:
    with KeyStore() as store:
        _, key_a = store.create("acme")
        _, key_a2 = store.create("acme")
        _, key_b = store.create("globex")
        r = await _cache_rig(tmp_path, store, policy)
        first = await r.post(Q, key=key_a)
        same_ws = await r.post(Q, key=key_a2)  # another key of A: A's entry
        other_ws = await r.post(Q, key=key_b)
        again_b = await r.post(Q, key=key_b)
        await r.close()
    assert first.headers["x-workbench-cache"] == "miss"
    assert same_ws.headers["x-workbench-cache"] in ("hit", "semantic_hit")
    assert other_ws.headers["x-workbench-cache"] == "miss"
    assert again_b.headers["x-workbench-cache"] in ("hit", "semantic_hit")
    assert r.backends["main"].calls == 2  # one upstream call per workspace
    assert [rec["workspace"] for rec in r.records] == ["acme", "acme", "globex", "globex"]
    assert r.records[2]["cache_key"] != r.records[0]["cache_key"]


# ---------------------------------------------------------------- spend attribution


async def test_spend_is_charged_to_the_keys_workspace_whatever_the_request_says(
    wb_home: Path, tmp_path: Path
) -> None:
    with KeyStore() as store:
        _, key_a = store.create("acme")
        r = await _cache_rig(tmp_path, store, {"cache": {"enabled": False}})
        body = {**Q, "user": "globex", "metadata": {"workspace": "globex"}}
        resp = await r.post(
            body, key=key_a, **{"x-workspace": "globex", "openai-project": "globex"}
        )
        await r.close()
    assert resp.status_code == 200
    rec = r.records[-1]
    assert rec["workspace"] == "acme" and rec["cost_usd"] > 0
