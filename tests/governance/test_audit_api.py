"""The audit and data routes of the admin REST API (FastAPI TestClient over a real app with
the real key store, audit log and lake), and the ``workbench audit`` / ``data`` CLI."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from workbench.cli import main
from workbench.gateway.admin import mount
from workbench.governance import audit
from workbench.home import logs_dir
from workbench.keys import KeyStore
from workbench.logstore import LogWriter, query

from .test_erasure import records


@pytest.fixture
def api(wb_home: Path) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    store = KeyStore()
    _, admin = store.create("w0", "admin", role="admin")
    _, analyst = store.create("w0", "analyst", role="analyst")
    app = FastAPI()
    mount(app, store)
    with TestClient(app) as client:
        yield (
            client,
            {"Authorization": f"Bearer {admin}"},
            {"Authorization": f"Bearer {analyst}"},
        )
    store.close()


def test_erasure_and_audit_over_rest(api: tuple[TestClient, dict, dict]) -> None:
    client, admin, analyst = api
    with LogWriter(logs_dir()) as w:
        w.append(records(100))
    r = client.post("/admin/v1/data/erasure", json={"user": "u3"}, headers=analyst)
    assert r.status_code == 403 and r.json()["error"]["type"] == "permission_error"
    r = client.post("/admin/v1/data/erasure", json={}, headers=admin)
    assert r.status_code == 400 and "user or a key" in r.json()["error"]["message"]
    r = client.post("/admin/v1/data/erasure", json={"user": "u3"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["rows_removed"] == sum(1 for x in records(100) if x["user"] == "u3") > 0
    assert query("SELECT count(*) AS n FROM requests WHERE \"user\" = 'u3'")["n"][0] == 0

    r = client.get("/admin/v1/audit", params={"action": "data.*"}, headers=admin)
    (entry,) = r.json()["data"]
    assert entry["action"] == "data.erase" and entry["actor"].startswith("key:")
    assert entry["source"] == "api:testclient"
    assert client.get("/admin/v1/audit", headers=analyst).status_code == 403
    assert client.get("/admin/v1/audit/verify", headers=admin).json()["ok"] is True


def test_policy_put_is_audited(api: tuple[TestClient, dict, dict]) -> None:
    client, admin, _ = api
    r = client.put("/admin/v1/data/policies/w1", json={"retention_days": 0}, headers=admin)
    assert r.status_code in (400, 422)
    r = client.put(
        "/admin/v1/data/policies/w1", json={"retention_days": 30, "bodies": "none"}, headers=admin
    )
    assert r.json() == {"workspace": "w1", "retention_days": 30, "bodies": "none"}
    r = client.put("/admin/v1/data/policies/w1", json={"retention_days": None}, headers=admin)
    assert r.json() == {"workspace": "w1", "retention_days": None, "bodies": "none"}
    got = client.get("/admin/v1/data/policies", headers=admin).json()["data"]
    assert got == [{"workspace": "w1", "retention_days": None, "bodies": "none"}]
    e = audit.entries(action="data.policy.update")
    assert [x.after["retention_days"] for x in e] == [30, None]
    assert e[1].before["retention_days"] == 30


def test_cli_audit_verify_and_erase(wb_home: Path) -> None:
    with LogWriter(logs_dir()) as w:
        w.append(records(60))
    runner = CliRunner()
    out = runner.invoke(main, ["data", "erase", "--user", "u1", "--workspace", "w1"])
    assert out.exit_code == 0, out.output
    assert "proof in audit entry 1" in out.output
    n = query("SELECT count(*) AS n FROM requests WHERE \"user\" = 'u1' AND workspace = 'w1'")
    assert n["n"][0] == 0
    out = runner.invoke(main, ["audit", "list", "--json"])
    assert '"action": "data.erase"' in out.output
    assert runner.invoke(main, ["audit", "verify"]).exit_code == 0
    conn = sqlite3.connect(wb_home / "audit.sqlite")
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 1")
    conn.commit()
    out = runner.invoke(main, ["audit", "verify"])
    assert out.exit_code == 1 and "entry 1" in out.output
