"""The admin API and the allowed-models filter through the real Serve ingress (Ray).

Run under ``flock /tmp/ray.lock`` (it uses the session ``gateway`` fixture)."""

from __future__ import annotations

import json

import httpx

from tests.conftest import Gateway

CHAT = {"messages": [{"role": "user", "content": "hello"}], "max_tokens": 4}


def test_admin_api_and_allowed_models_through_serve(gateway: Gateway) -> None:
    made = gateway.cli("keys", "create", "-w", "admin-e2e", "--role", "admin", "--json")
    admin = {"authorization": f"Bearer {json.loads(made.stdout)['key']}"}
    base = gateway.base_url
    with httpx.Client(base_url=base, timeout=30) as c:
        me = c.get("/admin/v1/whoami", headers=admin)
        assert me.status_code == 200, me.text
        assert me.json()["role"] == "admin"
        anon = c.get("/admin/v1/whoami")
        assert anon.status_code == 401 and anon.json()["error"]["code"] == "missing_api_key"
        app = c.get("/admin/v1/keys", headers={"authorization": f"Bearer {gateway.key}"})
        assert app.status_code == 403 and app.json()["error"]["type"] == "permission_error"

        created = c.post("/admin/v1/keys", headers=admin, json={
            "workspace": "admin-e2e", "allowed_models": ["echo"], "name": "limited",
        })  # fmt: skip
        assert created.status_code == 201, created.text
        limited = {"authorization": f"Bearer {created.json()['key']}"}

        models = c.get("/v1/models", headers=limited)
        assert [m["id"] for m in models.json()["data"]] == ["echo"]
        everything = c.get("/v1/models", headers={"authorization": f"Bearer {gateway.key}"})
        assert {"echo", "upstream"} <= {m["id"] for m in everything.json()["data"]}
        assert c.get("/v1/models/upstream", headers=limited).status_code == 404
        ok = c.post("/v1/chat/completions", headers=limited, json={**CHAT, "model": "echo"})
        assert ok.status_code == 200, ok.text
        denied = c.post("/v1/chat/completions", headers=limited, json={**CHAT, "model": "upstream"})
        assert denied.status_code == 403
        assert denied.json()["error"]["code"] == "model_not_allowed"
        request_id = denied.headers["x-workbench-request-id"]

    row = gateway.wait_logged({request_id})[request_id]
    assert row["http_status"] == 403 and row["error_code"] == "model_not_allowed"
    assert row["workspace"] == "admin-e2e"
    trail = gateway.cli("audit", "list", "--json", check=False)
    assert trail.returncode == 0, trail.stderr
    assert "key.create" in trail.stdout and created.json()["key_id"] in trail.stdout


def test_member_keys_follow_the_member_through_serve(gateway: Gateway) -> None:
    """A member's key works while the member is enabled; disabling the member through the
    admin API withdraws the key on the running ingress (within the key cache's recheck)."""
    import time

    made = gateway.cli("keys", "create", "-w", "members-e2e", "--role", "admin", "--json")
    admin = {"authorization": f"Bearer {json.loads(made.stdout)['key']}"}
    with httpx.Client(base_url=gateway.base_url, timeout=30) as c:
        m = c.post("/admin/v1/members", headers=admin, json={"email": "bob@example.com"})
        assert m.status_code == 201, m.text
        mid = m.json()["member_id"]
        ship = {"workspace": "members-e2e", "role": "app"}
        r = c.post(f"/admin/v1/members/{mid}/memberships", headers=admin, json=ship)
        assert r.status_code in (200, 201), r.text
        k = c.post("/admin/v1/keys", headers=admin,
                   json={"workspace": "members-e2e", "role": "app", "member_id": mid})  # fmt: skip
        assert k.status_code == 201, k.text
        bob = {"authorization": f"Bearer {k.json()['key']}"}
        ok = c.post("/v1/chat/completions", headers=bob, json={**CHAT, "model": "echo"})
        assert ok.status_code == 200, ok.text

        off = c.patch(f"/admin/v1/members/{mid}", headers=admin, json={"disabled": True})
        assert off.status_code == 200, off.text
        deadline = time.monotonic() + 10
        while True:
            r = c.post("/v1/chat/completions", headers=bob, json={**CHAT, "model": "echo"})
            if r.status_code != 200 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert r.status_code == 401, r.text
        rid = r.headers["x-workbench-request-id"]
    row = gateway.wait_logged({rid})[rid]
    assert row["http_status"] == 401 and row["workspace"] in (None, "members-e2e")
