"""``/admin/v1/members`` and members' keys through the real in-process app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from workbench.config.gateway import parse_config
from workbench.gateway.app import create_app
from workbench.governance import audit
from workbench.keys import KeyStore
from workbench.pipeline import build_pipeline

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


class Api:
    def __init__(self, client: httpx.AsyncClient, store: KeyStore, admin_key: str) -> None:
        self.client, self.store, self.admin_key = client, store, admin_key
        self.records: list[dict[str, Any]] = []

    async def call(self, method: str, path: str, key: str | None = None, **kw: Any) -> Any:
        headers = {"authorization": f"Bearer {key or self.admin_key}"}
        return await self.client.request(method, "/admin/v1" + path, headers=headers, **kw)

    async def chat(self, key: str) -> httpx.Response:
        headers = {"authorization": f"Bearer {key}"}
        return await self.client.post("/v1/chat/completions", json=CHAT, headers=headers)


@pytest.fixture
async def api(wb_home: Path) -> AsyncIterator[Api]:
    cfg = parse_config(
        {"gateway": {"require_auth": True}, "models": [{"name": "echo", "provider": "echo"}]}
    )
    store = KeyStore(recheck_interval=0.0)
    _, admin_key = store.create("ops", "root", role="admin")
    for name in ("team-a", "team-b"):
        store.create(name, "seed")
    records: list[dict[str, Any]] = []
    gp = build_pipeline(cfg, submit_record=records.append, auth=store)
    transport = httpx.ASGITransport(app=create_app(gp))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        out = Api(client, store, admin_key)
        out.records = records
        yield out
    store.close()


def _error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err = r.json()["error"]
    assert set(err) == {"message", "type", "code", "param"}
    return dict(err)


async def _alice(api: Api, **roles: str) -> str:
    made = await api.call("POST", "/members", json={"email": "alice@example.com"})
    assert made.status_code == 201, made.text
    mid = str(made.json()["member_id"])
    for workspace, role in roles.items():
        body = {"workspace": workspace.replace("_", "-"), "role": role}
        r = await api.call("POST", f"/members/{mid}/memberships", json=body)
        assert r.status_code == 200, r.text
    return mid


async def _key(api: Api, mid: str, workspace: str, role: str) -> str:
    body = {"workspace": workspace, "role": role, "member_id": mid}
    r = await api.call("POST", "/keys", json=body)
    assert r.status_code == 201, r.text
    assert r.json()["member_id"] == mid
    return str(r.json()["key"])


async def test_members_crud_and_memberships(api: Api) -> None:
    mid = await _alice(api, team_a="analyst")
    r = await api.call("POST", "/members", json={"email": "ALICE@example.com"})
    assert _error(r, 409)["code"] == "member_exists"
    listed = (await api.call("GET", "/members")).json()
    assert listed["object"] == "list" and [m["member_id"] for m in listed["data"]] == [mid]
    shown = (await api.call("GET", "/members/alice@example.com")).json()
    assert shown["memberships"][0]["role"] == "analyst" and shown["status"] == "active"
    r = await api.call("PATCH", f"/members/{mid}", json={"display_name": "Alice", "disabled": True})
    assert r.json()["display_name"] == "Alice" and r.json()["status"] == "disabled"
    body = {"workspace": "team-b", "role": "app"}
    await api.call("POST", f"/members/{mid}/memberships", json=body)
    ships = (await api.call("GET", f"/members/{mid}/memberships")).json()["data"]
    pairs = [(s["workspace"], s["role"]) for s in ships]
    assert pairs == [("team-a", "analyst"), ("team-b", "app")]
    r = await api.call("DELETE", f"/members/{mid}/memberships/team-a")
    assert [s["workspace"] for s in r.json()["memberships"]] == ["team-b"]
    _error(await api.call("DELETE", f"/members/{mid}/memberships/team-a"), 404)
    _error(await api.call("GET", "/members/mem_000000000000"), 404)
    err = _error(await api.call("POST", "/members", json={"email": "nope"}), 400)
    assert "invalid email" in err["message"]
    bad = {"workspace": "team-a", "role": "root"}
    _error(await api.call("POST", f"/members/{mid}/memberships", json=bad), 400)
    actions = [e.action for e in audit.entries() if e.target == f"member:{mid}"]
    assert actions == ["member.create", "membership.set", "member.update", "membership.set",
                       "membership.remove"]  # fmt: skip


async def test_non_admin_keys_get_403(api: Api) -> None:
    mid = await _alice(api, team_a="policy-author")
    key = await _key(api, mid, "team-a", "policy-author")
    for method, path, body in (
        ("GET", "/members", None),
        ("POST", "/members", {"email": "eve@example.com"}),
        ("PATCH", f"/members/{mid}", {"disabled": True}),
        ("POST", f"/members/{mid}/memberships", {"workspace": "team-a", "role": "admin"}),
        ("DELETE", f"/members/{mid}/memberships/team-a", None),
    ):
        r = await api.call(method, path, key, json=body)
        assert _error(r, 403)["code"] in ("permission_denied", "workspace_forbidden")


async def test_minting_above_the_membership_is_refused(api: Api) -> None:
    mid = await _alice(api, team_a="analyst")
    r = await api.call("POST", "/keys", json={"workspace": "team-a", "role": "policy-author",
                                               "member_id": mid})  # fmt: skip
    err = _error(r, 400)
    assert err["code"] == "role_exceeds_membership" and "policies:write" in err["message"]
    r = await api.call("POST", "/keys", json={"workspace": "team-b", "role": "app",
                                               "member_id": mid})  # fmt: skip
    assert _error(r, 400)["code"] == "not_a_member"


async def test_whoami_shows_the_member_and_the_capped_role(api: Api) -> None:
    mid = await _alice(api, team_a="policy-author")
    key = await _key(api, mid, "team-a", "policy-author")
    me = (await api.call("GET", "/whoami", key)).json()
    assert me["member"] == {"member_id": mid, "email": "alice@example.com",
                            "display_name": None, "role": "policy-author"}  # fmt: skip
    body = {"workspace": "team-a", "role": "analyst"}
    await api.call("POST", f"/members/{mid}/memberships", json=body)
    me = (await api.call("GET", "/whoami", key)).json()
    assert me["role"] == "analyst" and me["permissions"] == ["logs:read"]
    assert me["member"]["role"] == "analyst"
    admin = (await api.call("GET", "/whoami")).json()
    assert admin["member"] is None


async def test_a_disabled_members_key_is_refused_by_the_gateway(api: Api) -> None:
    mid = await _alice(api, team_a="app")
    key = await _key(api, mid, "team-a", "app")
    ok = await api.chat(key)
    assert ok.status_code == 200, ok.text
    assert api.records[-1]["workspace"] == "team-a" and api.records[-1]["http_status"] == 200
    await api.call("PATCH", f"/members/{mid}", json={"disabled": True})
    n = len(api.records)
    err = _error(await api.chat(key), 401)
    assert err["code"] == "member_disabled" and key.split("-", 2)[2] not in err["message"]
    assert len(api.records) == n + 1 and api.records[-1]["http_status"] == 401
    assert api.records[-1]["error_code"] == "member_disabled"
    await api.call("PATCH", f"/members/{mid}", json={"disabled": False})
    assert (await api.chat(key)).status_code == 200


async def test_removed_or_downgraded_membership_at_the_gateway(api: Api) -> None:
    mid = await _alice(api, team_a="policy-author", team_b="app")
    key_a = await _key(api, mid, "team-a", "policy-author")
    key_b = await _key(api, mid, "team-b", "app")
    assert (await api.chat(key_a)).status_code == 200
    body = {"workspace": "team-a", "role": "analyst"}  # analysts may not call models
    await api.call("POST", f"/members/{mid}/memberships", json=body)
    assert _error(await api.chat(key_a), 403)["type"] == "permission_error"
    await api.call("DELETE", f"/members/{mid}/memberships/team-a")
    assert _error(await api.chat(key_a), 401)["code"] == "membership_removed"
    assert (await api.chat(key_b)).status_code == 200  # the other workspace is untouched
    assert api.records[-1]["workspace"] == "team-b"


async def test_attach_an_existing_key_to_a_member_and_detach_it(api: Api) -> None:
    mid = await _alice(api, team_a="app")
    made = await api.call("POST", "/keys", json={"workspace": "team-a", "role": "app"})
    kid, key = made.json()["key_id"], made.json()["key"]
    r = await api.call("PATCH", f"/keys/{kid}", json={"member_id": mid})
    assert r.status_code == 200, r.text
    assert r.json()["member_id"] == mid
    await api.call("PATCH", f"/members/{mid}", json={"disabled": True})
    assert _error(await api.chat(key), 401)["code"] == "member_disabled"
    r = await api.call("PATCH", f"/keys/{kid}", json={"member_id": None})
    assert r.status_code == 200 and r.json()["member_id"] is None
    assert (await api.chat(key)).status_code == 200  # no longer the disabled member's key
    r = await api.call("PATCH", f"/keys/{kid}", json={"member_id": "mem_000000000000"})
    assert _error(r, 404)["code"] == "member_not_found"
