"""Enforcement in the request pipeline: role (models:call), allowed models, /v1/models
filtering, and the client address behind trusted proxies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bench.fake_upstream import FakeUpstreamThread
from workbench.config.gateway import parse_config
from workbench.errors import ConfigError
from workbench.governance.proxies import client_ip
from workbench.keys import KeyStore

from .conftest import InProcess, gateway_config, in_process

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hi"}]}


@pytest.fixture
async def gw_auth(wb_home: Path, upstream: FakeUpstreamThread) -> AsyncIterator[InProcess]:
    cfg = gateway_config(upstream.base_url, require_auth=True)
    store = KeyStore(wb_home / "keys.sqlite", recheck_interval=0.0)
    ip = await in_process(cfg, auth=store)
    yield ip
    await ip.client.aclose()
    store.close()


def _key(ip: InProcess, **kw: Any) -> dict[str, str]:
    _, key = ip.pipeline.auth.create("team-a", **kw)  # type: ignore[union-attr]
    return {"authorization": f"Bearer {key}"}


async def test_a_role_without_models_call_gets_403_and_one_record(gw_auth: InProcess) -> None:
    headers = _key(gw_auth, role="analyst")
    r = await gw_auth.client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["type"] == "permission_error" and "models:call" in err["message"]
    rec = gw_auth.only_record()
    assert rec["http_status"] == 403 and rec["status"] == "rejected"
    assert rec["workspace"] == "team-a" and rec["key_id"] is not None
    assert rec["error_type"] == "permission_error"


async def test_a_model_outside_the_allowed_list_is_403_model_not_allowed(
    gw_auth: InProcess,
) -> None:
    headers = _key(gw_auth, allowed_models=["remote"])
    r = await gw_auth.client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert r.status_code == 403
    err = r.json()["error"]
    assert err["code"] == "model_not_allowed" and err["param"] == "model"
    assert "'echo'" in err["message"]
    rec = gw_auth.only_record()
    assert (rec["http_status"], rec["error_code"], rec["model_requested"]) == (
        403, "model_not_allowed", "echo",
    )  # fmt: skip
    assert rec["target"] is None and rec["prompt_tokens"] is None  # nothing was called
    ok = await gw_auth.client.post(
        "/v1/chat/completions", json={**CHAT, "model": "remote"}, headers=headers
    )
    assert ok.status_code == 200, ok.text
    emb = await gw_auth.client.post(
        "/v1/embeddings", json={"model": "echo", "input": "x"}, headers=headers
    )
    assert emb.status_code == 403 and emb.json()["error"]["code"] == "model_not_allowed"


async def test_v1_models_lists_and_shows_only_allowed_models(gw_auth: InProcess) -> None:
    everything = await gw_auth.client.get("/v1/models", headers=_key(gw_auth))
    assert {m["id"] for m in everything.json()["data"]} == {"echo", "remote", "down"}
    limited = _key(gw_auth, allowed_models=["echo", "not-served"])
    listed = await gw_auth.client.get("/v1/models", headers=limited)
    assert [m["id"] for m in listed.json()["data"]] == ["echo"]
    assert (await gw_auth.client.get("/v1/models/echo", headers=limited)).status_code == 200
    hidden = await gw_auth.client.get("/v1/models/remote", headers=limited)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "model_not_found"
    analyst = await gw_auth.client.get("/v1/models", headers=_key(gw_auth, role="analyst"))
    assert analyst.status_code == 200 and analyst.json()["data"] == []


async def test_an_allowed_models_change_applies_without_restart(gw_auth: InProcess) -> None:
    store: KeyStore = gw_auth.pipeline.auth  # type: ignore[assignment]
    rec, key = store.create("team-a")
    headers = {"authorization": f"Bearer {key}"}
    first = await gw_auth.client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert first.status_code == 200
    store.update(rec.key_id, allowed_models=["remote"])
    second = await gw_auth.client.post("/v1/chat/completions", json=CHAT, headers=headers)
    assert second.status_code == 403


# ---------------------------------------------------------------- client address

TRUSTED = ("10.0.0.0/8", "2001:db8::/32")


@pytest.mark.parametrize(
    ("peer", "xff", "trusted", "expected"),
    [
        ("198.51.100.7", "1.2.3.4", (), "198.51.100.7"),  # no proxies configured
        ("198.51.100.7", "1.2.3.4", TRUSTED, "198.51.100.7"),  # peer not trusted: ignored
        ("10.0.0.5", None, TRUSTED, "10.0.0.5"),  # trusted peer, no header
        ("10.0.0.5", "1.2.3.4", TRUSTED, "1.2.3.4"),
        ("10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9", TRUSTED, "1.2.3.4"),  # right-most untrusted
        ("10.0.0.5", "10.0.0.8, 10.0.0.9", TRUSTED, "10.0.0.8"),  # all trusted: left-most
        ("10.0.0.5", "1.2.3.4, garbage", TRUSTED, "10.0.0.5"),  # malformed hop: stop
        ("10.0.0.5", "1.2.3.4:5555", TRUSTED, "1.2.3.4"),
        ("2001:db8::1", "[2001:db9::7]:443", TRUSTED, "2001:db9::7"),
        ("::ffff:10.0.0.5", "1.2.3.4", TRUSTED, "1.2.3.4"),  # v4-mapped peer
        (None, "1.2.3.4", TRUSTED, None),
    ],
)
def test_client_ip(peer: str | None, xff: str | None, trusted: Any, expected: str | None) -> None:
    assert client_ip(peer, xff, trusted) == expected


async def test_the_logged_client_ip_honours_only_trusted_proxies(
    upstream: FakeUpstreamThread,
) -> None:
    spoof = {"x-forwarded-for": "6.6.6.6, 203.0.113.5"}
    # httpx's ASGI transport connects from 127.0.0.1
    default = await in_process(gateway_config(upstream.base_url))
    behind = await in_process(gateway_config(upstream.base_url, trusted_proxies=["127.0.0.1"]))
    for ip in (default, behind):
        r = await ip.client.post("/v1/chat/completions", json=CHAT, headers=spoof)
        assert r.status_code == 200
        await ip.client.aclose()
    assert default.only_record()["client_ip"] == "127.0.0.1"
    assert behind.only_record()["client_ip"] == "203.0.113.5"


def test_trusted_proxies_must_be_cidrs() -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        parse_config(
            {
                "gateway": {"trusted_proxies": ["10.0.0.0/33"]},
                "models": [{"name": "echo", "provider": "echo"}],
            }
        )
