"""The admin REST API (/admin/v1) over the real app built by build_pipeline, in-process."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from workbench.config.gateway import parse_config
from workbench.gateway.app import create_app
from workbench.governance import audit
from workbench.keys import KeyStore
from workbench.pipeline import build_pipeline


@dataclass
class Admin:
    client: httpx.AsyncClient
    store: KeyStore
    admin_key: str
    records: list[dict[str, Any]]

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.admin_key}"}

    async def call(self, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
        return await self.client.request(method, "/admin/v1" + path, headers=self.auth(key), **kw)


@pytest.fixture
async def api(wb_home: Path) -> AsyncIterator[Admin]:
    cfg = parse_config(
        {
            "gateway": {"require_auth": True, "trusted_proxies": ["127.0.0.0/8"]},
            "models": [{"name": "echo", "provider": "echo"}],
        }
    )
    store = KeyStore(recheck_interval=0.0)
    _, admin_key = store.create("ops", "root", role="admin")
    records: list[dict[str, Any]] = []
    gp = build_pipeline(cfg, submit_record=records.append, auth=store)
    transport = httpx.ASGITransport(app=create_app(gp))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield Admin(client, store, admin_key, records)
    store.close()


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "code", "param"}
    return dict(err)


async def test_whoami(api: Admin) -> None:
    me = (await api.call("GET", "/whoami")).json()
    assert me["role"] == "admin" and me["workspaces"] is None and me["workspace"] == "ops"
    assert "keys:manage" in me["permissions"] and me["allowed_models"] is None


async def test_authentication_errors_are_401_and_never_echo_the_key(api: Admin) -> None:
    assert _error(await api.client.get("/admin/v1/whoami"), 401)["code"] == "missing_api_key"
    wrong = api.admin_key[:-4] + "AAAA"
    err = _error(await api.call("GET", "/whoami", wrong), 401)
    assert err["code"] == "invalid_api_key" and wrong.split("-", 2)[2] not in err["message"]
    err = _error(await api.call("GET", "/whoami", "wb-short"), 401)
    r = await api.client.get("/admin/v1/keys", headers={"authorization": "Basic abc"})
    _error(r, 401)


async def test_workspaces_crud(api: Admin) -> None:
    made = await api.call("POST", "/workspaces", json={"name": "team-a", "display_name": "A"})
    assert made.status_code == 201 and made.json()["display_name"] == "A"
    listed = (await api.call("GET", "/workspaces")).json()
    assert listed["object"] == "list" and [w["name"] for w in listed["data"]] == ["ops", "team-a"]
    patched = await api.call("PATCH", "/workspaces/team-a", json={"settings": {"k": [1]}})
    assert patched.json()["settings"] == {"k": [1]} and patched.json()["display_name"] == "A"
    assert (await api.call("GET", "/workspaces/team-a")).json()["settings"] == {"k": [1]}
    assert _error(await api.call("POST", "/workspaces", json={"name": "team-a"}), 409)["code"] == (
        "workspace_exists"
    )
    gone = await api.call("DELETE", "/workspaces/team-a")
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    assert _error(await api.call("GET", "/workspaces/team-a"), 404)["code"] == (
        "workspace_not_found"
    )
    assert _error(await api.call("DELETE", "/workspaces/ops"), 409)["code"] == (
        "workspace_not_empty"
    )


async def test_keys_lifecycle_secret_only_in_the_create_response(api: Admin) -> None:
    made = await api.call("POST", "/keys", json={
        "workspace": "team-a", "name": "nb", "role": "analyst",
        "allowed_models": ["echo"], "grants": ["logs:bodies"],
        "expires_at": "2099-01-01T00:00:00Z",
    })  # fmt: skip
    assert made.status_code == 201, made.text
    body = made.json()
    key, kid = body["key"], body["key_id"]
    secret = key.split("-", 2)[2]
    assert body["allowed_models"] == ["echo"] and body["grants"] == ["logs:bodies"]
    assert body["expires_at"].startswith("2099-01-01")
    assert api.store.verify(key).role == "analyst"
    texts = [
        (await api.call("GET", "/keys")).text,
        (await api.call("GET", f"/keys/{kid}")).text,
        (await api.call("PATCH", f"/keys/{kid}", json={"role": "app"})).text,
        (await api.call("POST", f"/keys/{kid}/revoke")).text,
    ]
    assert all(secret not in t for t in texts)
    listed = (await api.call("GET", "/keys", params={"workspace": "team-a"})).json()["data"]
    assert [k["key_id"] for k in listed] == [kid]
    revoked = (await api.call("POST", f"/keys/{kid}/revoke")).json()
    assert revoked["status"] == "revoked" and revoked["revoked_now"] is False
    active = (await api.call("GET", "/keys", params={"include_revoked": "false"})).json()
    assert kid not in [k["key_id"] for k in active["data"]]
    assert _error(await api.call("GET", "/keys/nosuchkey123"), 404)["code"] == "key_not_found"
    assert secret not in (Path(audit.audit_db())).read_bytes().decode("latin-1")


async def test_update_key_fields(api: Admin) -> None:
    kid = (await api.call("POST", "/keys", json={"workspace": "w"})).json()["key_id"]
    r = await api.call("PATCH", f"/keys/{kid}", json={
        "allowed_models": ["echo", "x"], "grants": ["logs:read"], "name": "n",
        "expires_at": "2099-01-01T00:00:00+00:00",
    })  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["allowed_models"] == ["echo", "x"] and r.json()["grants"] == ["logs:read"]
    r = await api.call("PATCH", f"/keys/{kid}", json={"expires_at": None, "allowed_models": []})
    assert r.json()["expires_at"] is None and r.json()["allowed_models"] == []
    assert r.json()["grants"] == ["logs:read"] and r.json()["name"] == "n"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("POST", "/keys", {"workspace": "Bad Name"}, 400),
        ("POST", "/keys", {"workspace": "w", "role": "root"}, 400),
        ("POST", "/keys", {"workspace": "w", "grants": ["keys:manage"]}, 400),
        ("POST", "/keys", {"workspace": "w", "expires_at": "2001-01-01T00:00:00Z"}, 400),
        ("POST", "/keys", {"workspace": "w", "expires_at": "2099-01-01T00:00:00"}, 400),
        ("POST", "/keys", {"workspace": "w", "allowed_models": "echo"}, 422),
        ("POST", "/keys", {"workspace": "w", "surprise": 1}, 422),
        ("POST", "/keys", {}, 422),
        ("POST", "/keys", [1, 2], 422),
        ("POST", "/workspaces", {"name": 5}, 422),
        ("POST", "/workspaces", {"name": "w", "settings": [1]}, 422),
        ("PATCH", "/workspaces/ops", {"display_name": "x" * 201}, 422),
        ("PATCH", "/keys/nosuchkey123", {"role": "app"}, 404),
        ("GET", "/nowhere", None, 404),
        ("PUT", "/keys", None, 405),
    ],
)
async def test_bad_requests_are_4xx(
    api: Admin, method: str, path: str, body: Any, status: int
) -> None:
    r = await api.call(method, path, json=body)
    _error(r, status)


async def test_malformed_json_is_400(api: Admin) -> None:
    r = await api.client.post(
        "/admin/v1/keys",
        headers={**api.auth(), "content-type": "application/json"},
        content=b'{"workspace": ',
    )
    assert _error(r, 400)["message"] == "request body is not valid JSON"


@pytest.mark.parametrize("role", ["app", "analyst", "policy-author"])
async def test_non_admin_keys_get_403_on_every_change(api: Admin, role: str) -> None:
    _, key = api.store.create("team-a", role=role)
    victim, _ = api.store.create("team-a")
    calls = [
        ("GET", "/keys", None),
        ("POST", "/keys", {"workspace": "team-a", "role": "admin"}),
        ("GET", f"/keys/{victim.key_id}", None),
        ("PATCH", f"/keys/{victim.key_id}", {"role": "admin"}),
        ("POST", f"/keys/{victim.key_id}/revoke", None),
        ("POST", "/workspaces", {"name": "mine"}),
        ("PATCH", "/workspaces/team-a", {"display_name": "x"}),
        ("DELETE", "/workspaces/team-a", None),
        ("GET", "/workspaces/ops", None),
    ]
    for method, path, body in calls:
        err = _error(await api.call(method, path, key, json=body), 403)
        assert err["type"] == "permission_error"
    assert api.store.get(victim.key_id).status() == "active"
    assert [w["name"] for w in (await api.call("GET", "/workspaces", key)).json()["data"]] == [
        "team-a"
    ]
    own = api.store.verify(key).key_id
    assert (await api.call("GET", f"/keys/{own}", key)).json()["key_id"] == own
    assert [e.action for e in audit.entries()] == []  # nothing happened, nothing audited


async def test_changes_are_audited_with_actor_and_forwarded_source(api: Admin) -> None:
    admin_id = api.store.verify(api.admin_key).key_id
    headers = {**api.auth(), "x-forwarded-for": "203.0.113.9, 10.1.1.1"}
    r = await api.client.post("/admin/v1/workspaces", headers=headers, json={"name": "team-a"})
    assert r.status_code == 201
    made = await api.call("POST", "/keys", json={"workspace": "team-a"})
    kid = made.json()["key_id"]
    await api.call("PATCH", f"/keys/{kid}", json={"allowed_models": ["echo"]})
    await api.call("POST", f"/keys/{kid}/revoke")
    trail = audit.entries()
    assert [e.action for e in trail] == [
        "workspace.create", "key.create", "key.update", "key.revoke",
    ]  # fmt: skip
    assert {e.actor for e in trail} == {f"key:{admin_id}"}
    # 127.0.0.1 (the peer) is a trusted proxy; 10.1.1.1 is not: it is the client
    assert trail[0].source == "api:10.1.1.1" and trail[1].source == "api:127.0.0.1"
    assert trail[2].before["allowed_models"] == [] and trail[2].after["allowed_models"] == ["echo"]
    assert audit.verify().ok


async def test_a_revoked_admin_key_loses_the_api(api: Admin) -> None:
    rec, key = api.store.create("ops", role="admin")
    assert (await api.call("GET", "/whoami", key)).status_code == 200
    await api.call("POST", f"/keys/{rec.key_id}/revoke")
    assert _error(await api.call("GET", "/keys", key), 401)["code"] == "revoked_api_key"


async def test_the_admin_api_does_not_write_gateway_request_records(api: Admin) -> None:
    await api.call("GET", "/whoami")
    await api.call("GET", "/nowhere")
    assert api.records == []
