"""Managing budgets and limits: the governed functions, the CLI and /admin/v1 (audited,
permission-checked, OpenAI-shaped errors)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from workbench.cli import main
from workbench.config.gateway import parse_config
from workbench.errors import NotFoundError, PermissionDeniedError
from workbench.gateway.app import create_app
from workbench.governance import audit
from workbench.governance.permissions import MANAGE_LIMITS, Principal
from workbench.keys import KeyStore
from workbench.limits import LimitsStore, Rule, delete_rule, list_rules, set_rule, usage
from workbench.pipeline import build_pipeline

WS_A_ADMIN = Principal(actor="key:wa", role="admin", workspaces=frozenset({"a"}),
                       permissions=frozenset({MANAGE_LIMITS}))  # fmt: skip


def test_set_list_delete_are_audited(wb_home: Path) -> None:
    store = LimitsStore()
    gen = store.generation()
    set_rule(Rule("a-day", "budget", "workspace", "a", 5.0, period="day", soft=0.8))
    set_rule(Rule("a-day", "budget", "workspace", "a", 7.0, period="day"))
    assert store.generation() == gen + 2  # what running gateways poll
    (rule,) = list_rules(kinds=("budget",))
    assert (rule.limit, rule.workspace) == (7.0, "a")  # a workspace rule is confined to it
    delete_rule("a-day", kinds=("budget",))
    with pytest.raises(NotFoundError):
        delete_rule("a-day")
    actions = [(e.action, e.workspace) for e in audit.entries(target="budget:a-day")]
    assert actions == [("budget.create", "a"), ("budget.update", "a"), ("budget.delete", "a")]
    upd = audit.entries(action="budget.update")[0]
    assert upd.before["limit"] == 5.0 and upd.after["limit"] == 7.0
    assert audit.verify().ok


def test_a_workspace_admin_manages_only_its_workspace(wb_home: Path) -> None:
    set_rule(Rule("a-rpm", "requests", "key", "*", 10, workspace="a"), principal=WS_A_ADMIN)
    with pytest.raises(PermissionDeniedError):
        set_rule(Rule("b-rpm", "requests", "key", "*", 10, workspace="b"), principal=WS_A_ADMIN)
    with pytest.raises(PermissionDeniedError):  # a rule over every workspace
        set_rule(Rule("all", "requests", "key", "*", 10), principal=WS_A_ADMIN)
    set_rule(Rule("b-usd", "budget", "workspace", "b", 1.0, period="day"))  # the operator
    assert [r.id for r in list_rules(principal=WS_A_ADMIN)] == ["a-rpm"]
    with pytest.raises(PermissionDeniedError):
        delete_rule("b-usd", principal=WS_A_ADMIN)
    analyst = Principal(actor="key:an", role="analyst", workspaces=frozenset({"a"}),
                        permissions=frozenset())  # fmt: skip
    with pytest.raises(PermissionDeniedError):
        list_rules(principal=analyst)


def test_usage_reads_the_authoritys_snapshot(wb_home: Path) -> None:
    from workbench.limits import Ask, AuthorityCore

    set_rule(Rule("usd", "budget", "workspace", "a", 2.0, period="month"))
    core = AuthorityCore(LimitsStore())
    (g,) = core.exchange("c", [], [Ask("usd|a", 500_000_000, extra=False)])
    (row,) = usage(kinds=("budget",))
    assert (row["rule"], row["subject"], row["used"], row["remaining"]) == ("usd", "a", 0.5, 1.5)
    assert row["fraction"] == 0.25 and row["reset_at"] > 0


def test_cli_budgets_and_limits(wb_home: Path) -> None:
    run = CliRunner().invoke
    r = run(main, ["budgets", "set", "team-a", "--scope", "workspace", "--subject", "a",
                   "--amount", "$5", "--period", "week", "--rolling", "--soft", "0.8"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "$5 per week (rolling)" in r.output
    r = run(main, ["limits", "set", "rpm", "--kind", "requests", "--scope", "key",
                   "--subject", "*", "--limit", "60"])  # fmt: skip
    assert r.exit_code == 0, r.output
    listed = json.loads(run(main, ["budgets", "list", "--json"]).output)
    assert [(b["id"], b["window"], b["soft"]) for b in listed] == [("team-a", "rolling", 0.8)]
    limits = json.loads(run(main, ["limits", "list", "--json"]).output)
    assert [(x["id"], x["limit"]) for x in limits] == [("rpm", 60)]
    assert run(main, ["budgets", "status", "--json"]).output.strip() == "[]"
    r = run(main, ["limits", "delete", "team-a"])  # a budget is not a rate limit
    assert r.exit_code == 2 and "no such rule" in r.output
    assert run(main, ["budgets", "delete", "team-a"]).exit_code == 0
    r = run(main, ["budgets", "set", "x", "--scope", "key", "--subject", "k", "--amount", "five"])
    assert r.exit_code == 2 and "not an amount" in r.output


async def test_rest_budgets_and_limits(wb_home: Path) -> None:
    keys = KeyStore()
    admin = keys.create("ops", "admin", role="admin")[1]
    app_key = keys.create("a", "app", role="app")[1]
    cfg = parse_config({"models": [{"name": "echo", "provider": "echo"}]})
    gp = build_pipeline(cfg, submit_record=lambda r: None, auth=keys)
    transport = httpx.ASGITransport(app=create_app(gp))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as c:
        auth = {"Authorization": f"Bearer {admin}"}
        r = await c.put("/admin/v1/budgets/a-month", headers=auth,
                        json={"scope": "workspace", "subject": "a", "amount_usd": 10,
                              "soft": 0.9})  # fmt: skip
        assert r.status_code == 200, r.text
        assert r.json()["workspace"] == "a"
        r = await c.put(
            "/admin/v1/limits/conc",
            headers=auth,
            json={"kind": "concurrent", "scope": "key", "subject": "*", "limit": 4},
        )
        assert r.status_code == 200, r.text
        r = await c.get("/admin/v1/budgets", headers=auth)
        assert [b["id"] for b in r.json()["data"]] == ["a-month"]
        r = await c.get("/admin/v1/limits", headers=auth)
        assert [b["id"] for b in r.json()["data"]] == ["conc"]
        r = await c.get("/admin/v1/budgets/status", headers=auth)
        assert r.status_code == 200 and r.json()["data"] == []
        bad = await c.put(
            "/admin/v1/limits/x",
            headers=auth,
            json={"kind": "requests", "scope": "team", "subject": "*", "limit": 1},
        )
        assert bad.status_code in (400, 422) and "error" in bad.json()
        denied = await c.get("/admin/v1/budgets", headers={"Authorization": f"Bearer {app_key}"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
        r = await c.delete("/admin/v1/limits/conc", headers=auth)
        assert r.status_code == 200 and r.json()["deleted"] is True
        r = await c.delete("/admin/v1/limits/conc", headers=auth)
        assert r.status_code == 404
    src = audit.entries(target="budget:a-month")[0].source
    assert src is not None and src.startswith("api:")
    keys.close()
