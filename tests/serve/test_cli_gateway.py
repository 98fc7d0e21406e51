"""`workbench status` / `up` against the session gateway (started with `up --detach`)."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.slow


def test_status_reports_running_and_ready(gateway):
    out = json.loads(gateway.cli("status", "--json").stdout)
    assert out["running"] is True
    assert out["health"]["status"] == "ready"
    assert gateway.base_url.endswith(str(out["port"]))


def test_second_up_is_refused(gateway):
    r = gateway.cli("up", "--detach", check=False)
    assert r.returncode != 0
    assert "already running" in r.stderr


def test_logs_cli_sees_traffic(gateway):
    import httpx

    r = httpx.post(gateway.base_url + "/v1/chat/completions", timeout=30,
                   headers={"Authorization": f"Bearer {gateway.key}"},
                   json={"model": "echo", "messages": [{"role": "user", "content": "tail me"}]})
    rid = r.headers["x-workbench-request-id"]
    gateway.wait_logged({rid})
    tail = gateway.cli("logs", "tail", "-n", "50", "--json").stdout
    assert rid in tail
    q = gateway.cli("logs", "query", f"select status from requests where request_id='{rid}'",
                    "--format", "json").stdout
    assert "ok" in q
