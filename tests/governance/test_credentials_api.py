"""``/admin/v1/credentials`` on the real app (in-process, httpx ASGI transport): the CRUD and
binding routes, 401/403 answers, and no secret in any answer."""

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

SECRET_A = "sk-proj-AAAAaaaa1111bbbbCCCC2222dddd3333"
SECRET_B = "sk-proj-BBBBzzzz9999yyyyXXXX8888wwww7777"
BASE = "/admin/v1/credentials"


@dataclass
class Api:
    client: httpx.AsyncClient
    admin: str
    analyst: str
    seen: list[str]

    async def call(self, method: str, path: str, key: str | None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        r = await self.client.request(method, BASE + path, headers=headers, **kw)
        self.seen.append(r.text)
        return r


@pytest.fixture
async def api(wb_home: Path) -> AsyncIterator[Api]:
    cfg = parse_config({"models": [{"name": "echo", "provider": "echo"}]})
    store = KeyStore()
    admin = store.create("ops", "admin", role="admin")[1]
    analyst = store.create("ws1", "analyst", role="analyst")[1]
    gp = build_pipeline(cfg, submit_record=lambda r: None, auth=store)
    transport = httpx.ASGITransport(app=create_app(gp))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield Api(client, admin, analyst, [])
    store.close()


async def test_crud_and_bindings_never_return_the_secret(api: Api) -> None:
    r = await api.call(
        "POST", "", api.admin, json={"name": "oa", "provider": "openai", "secret": SECRET_A}
    )
    assert r.status_code == 201, r.text
    cred = r.json()
    assert cred["id"].startswith("cred-") and cred["fingerprint"] == "...3333"
    assert cred["generation"] == 1 and "secret" not in cred
    cid = cred["id"]
    listing = (await api.call("GET", "", api.admin)).json()
    assert listing["object"] == "list" and [c["id"] for c in listing["data"]] == [cid]
    assert (await api.call("GET", "?provider=anthropic", api.admin)).json()["data"] == []
    assert (await api.call("GET", f"/{cid}", api.admin)).json()["name"] == "oa"
    rot = await api.call("POST", f"/{cid}/rotate", api.admin, json={"secret": SECRET_B})
    assert rot.status_code == 200 and rot.json()["generation"] == 2
    put = await api.call("PUT", "/bindings/ws1/remote", api.admin, json={"credential_id": cid})
    assert put.status_code == 200 and put.json()["credential_id"] == cid
    got = (await api.call("GET", "/bindings?workspace=ws1", api.admin)).json()["data"]
    assert [(b["workspace"], b["target"]) for b in got] == [("ws1", "remote")]
    busy = await api.call("DELETE", f"/{cid}", api.admin)
    assert busy.status_code == 400 and busy.json()["error"]["code"] == "credential_in_use"
    assert (await api.call("DELETE", "/bindings/ws1/remote", api.admin)).json()["deleted"]
    assert (await api.call("DELETE", "/bindings/ws1/remote", api.admin)).status_code == 404
    rk = await api.call("POST", "/rekey", api.admin, json={"new_key": True})
    assert rk.json() == {"reencrypted": 1, "new_key": True}
    gone = await api.call("DELETE", f"/{cid}", api.admin)
    assert gone.status_code == 200 and gone.json()["deleted"] is True
    missing = await api.call("GET", f"/{cid}", api.admin)
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "credential_not_found"
    for text in api.seen:
        assert SECRET_A not in text and SECRET_B not in text
    actions = [(e.action, e.source) for e in audit.entries()]
    assert [a for a, _ in actions if a.startswith("credential.")] == [
        "credential.add", "credential.rotate", "credential.bind", "credential.unbind",
        "credential.rekey", "credential.delete",
    ]  # fmt: skip
    assert all(s and s.startswith("api:") for a, s in actions if a.startswith("credential."))


async def test_analyst_gets_403_and_nothing_changes(api: Api) -> None:
    body = {"name": "oa", "provider": "openai", "secret": SECRET_A}
    cid = (await api.call("POST", "", api.admin, json=body)).json()["id"]
    calls: list[tuple[str, str, dict[str, Any] | None]] = [
        ("POST", "", body),
        ("GET", "", None),
        ("GET", f"/{cid}", None),
        ("POST", f"/{cid}/rotate", {"secret": SECRET_B}),
        ("DELETE", f"/{cid}", None),
        ("GET", "/bindings", None),
        ("PUT", "/bindings/ws1/remote", {"credential_id": cid}),
        ("DELETE", "/bindings/ws1/remote", None),
        ("POST", "/rekey", {}),
    ]
    for method, path, json_body in calls:
        r = await api.call(method, path, api.analyst, json=json_body)
        assert r.status_code == 403, (method, path, r.text)
        assert r.json()["error"]["type"] == "permission_error"
        anon = await api.call(method, path, None, json=json_body)
        assert anon.status_code == 401, (method, path, anon.text)
    rec = (await api.call("GET", f"/{cid}", api.admin)).json()
    assert rec["generation"] == 1
    for text in api.seen:
        assert SECRET_A not in text and SECRET_B not in text


async def test_bad_bodies_are_4xx_without_echoing_the_secret(api: Api) -> None:
    bad = [
        {"name": "oa", "provider": "openai", "secret": [SECRET_A]},
        {"name": "oa", "provider": "openai", "secret": SECRET_A, "extra": SECRET_B},
        {"name": "oa", "provider": "openai", "secret": f"{SECRET_A} {SECRET_B}"},
        {"name": "", "provider": "openai", "secret": SECRET_A},
    ]
    for body in bad:
        r = await api.call("POST", "", api.admin, json=body)
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["error"]["message"]
    for text in api.seen:
        assert SECRET_A not in text and SECRET_B not in text
    assert (await api.call("GET", "", api.admin)).json()["data"] == []
