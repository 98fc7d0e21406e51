"""Stored credentials on the call path: the real pipeline in-process against an upstream on
127.0.0.1 that records the Authorization header of every request.

Rotation without restart (same pipeline object), workspace bindings, and no secret in any
response, log record or log line, even when the upstream echoes the key in its error.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from workbench.config.gateway import parse_config
from workbench.gateway.app import create_app
from workbench.governance import _resolver
from workbench.governance import credentials as creds
from workbench.governance.permissions import cli_principal
from workbench.keys import KeyStore
from workbench.pipeline import build_pipeline

SECRET_A = "sk-proj-AAAAaaaa1111bbbbCCCC2222dddd3333"
SECRET_B = "sk-proj-BBBBzzzz9999yyyyXXXX8888wwww7777"
SECRET_W = "WorkspaceOwnKey0123456789abcdefXYZ"  # not key-shaped: only exact scrubbing hides it


@dataclass
class Recorder:
    """What the upstream saw."""

    auth: list[str] = field(default_factory=list)
    base_url: str = ""


def _completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
    }


REC = web.AppKey("rec", Recorder)


async def _chat(request: web.Request) -> web.StreamResponse:
    rec = request.app[REC]
    header = request.headers.get("Authorization", "")
    rec.auth.append(header)
    body = await request.json()
    if body["model"] == "echo-key-model":  # an upstream that repeats the key it was sent
        msg = f"Incorrect API key provided: {header.removeprefix('Bearer ')}. See docs."
        return web.json_response({"error": {"message": msg}}, status=401)
    if body.get("stream"):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        choice = {"index": 0, "delta": {"content": "ok"}, "finish_reason": "stop"}
        chunk = {"id": "c", "object": "chat.completion.chunk", "model": "m", "choices": [choice]}
        await resp.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        return resp
    return web.json_response(_completion(body["model"]))


@pytest.fixture
async def upstream() -> AsyncIterator[Recorder]:
    app = web.Application()
    rec = Recorder()
    app[REC] = rec
    app.router.add_post("/v1/chat/completions", _chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    rec.base_url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/v1"  # type: ignore[union-attr]
    yield rec
    await runner.cleanup()


@pytest.fixture
def no_recheck_delay(monkeypatch: pytest.MonkeyPatch) -> None:
    """Resolvers made in this test read the store generation on every request (the default
    0.5 s recheck is covered with an injected clock in tests/governance)."""
    monkeypatch.setattr(_resolver, "RECHECK_S", 0.0)


@dataclass
class Rig:
    client: httpx.AsyncClient
    records: list[dict[str, Any]]
    keys: dict[str, str]

    async def chat(self, workspace: str, model: str = "remote", **kw: Any) -> httpx.Response:
        body = {"model": model, "messages": [{"role": "user", "content": "hi"}], **kw}
        headers = {"Authorization": f"Bearer {self.keys[workspace]}"}
        return await self.client.post("/v1/chat/completions", json=body, headers=headers)


@pytest.fixture
async def rig(wb_home: Path, upstream: Recorder, no_recheck_delay: None) -> AsyncIterator[Rig]:
    me = cli_principal()
    cred = creds.add(me, name="openai-shared", provider="openai", secret=SECRET_A)
    target = {"provider": "openai-compatible", "base_url": upstream.base_url,
              "credential": cred.id, "fallback": None}  # fmt: skip
    cfg = parse_config(
        {
            "models": [
                {"name": "remote", "model": "fake-model", **target},
                {"name": "echoing", "model": "echo-key-model", **target},
            ]
        }
    )
    store = KeyStore()
    keys = {ws: store.create(ws, f"{ws}-app")[1] for ws in ("ws1", "ws2")}
    records: list[dict[str, Any]] = []
    gp = build_pipeline(cfg, submit_record=records.append, auth=store)
    transport = httpx.ASGITransport(app=create_app(gp))
    async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
        yield Rig(client, records, keys)
    store.close()
    _resolver.resolver(wb_home).close()


def _cred_id() -> str:
    return creds.list_credentials(cli_principal())[0].id


async def test_rotation_reaches_the_running_pipeline(rig: Rig, upstream: Recorder) -> None:
    r1 = await rig.chat("ws1")
    assert r1.status_code == 200, r1.text
    creds.rotate(cli_principal(), _cred_id(), SECRET_B)
    r2 = await rig.chat("ws1")
    r3 = await rig.chat("ws2", stream=True)
    assert r2.status_code == 200 and r3.status_code == 200, (r2.text, r3.text)
    assert upstream.auth == [f"Bearer {SECRET_A}", f"Bearer {SECRET_B}", f"Bearer {SECRET_B}"]


async def test_workspace_binding_uses_the_workspace_key(rig: Rig, upstream: Recorder) -> None:
    me = cli_principal()
    own = creds.add(me, name="ws1-own", provider="openai", secret=SECRET_W)
    creds.bind(me, "ws1", "remote", own.id)
    assert (await rig.chat("ws1")).status_code == 200
    assert (await rig.chat("ws2")).status_code == 200
    assert (await rig.chat("ws1", model="echoing")).status_code == 502  # not bound there
    creds.unbind(me, "ws1", "remote")
    assert (await rig.chat("ws1")).status_code == 200
    assert upstream.auth == [
        f"Bearer {SECRET_W}",
        f"Bearer {SECRET_A}",
        f"Bearer {SECRET_A}",
        f"Bearer {SECRET_A}",
    ]


async def test_no_secret_in_responses_records_or_logs(
    rig: Rig, upstream: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    me = cli_principal()
    own = creds.add(me, name="ws1-own", provider="openai", secret=SECRET_W)
    creds.bind(me, "ws1", "echoing", own.id)
    answers = [
        await rig.chat("ws1", model="echoing"),  # upstream echoes SECRET_W in its 401
        await rig.chat("ws2", model="echoing"),  # ... and SECRET_A
        await rig.chat("ws2", model="echoing", stream=True),
        await rig.chat("ws2"),
    ]
    assert [a.status_code for a in answers] == [502, 502, 502, 200]
    assert upstream.auth[:2] == [f"Bearer {SECRET_W}", f"Bearer {SECRET_A}"]
    err = answers[0].json()["error"]
    assert err["code"] == "upstream_auth_failed" and "Incorrect API key provided" in err["message"]
    seen = "\n".join(
        [a.text for a in answers]
        + [json.dumps(r, default=str) for r in rig.records]
        + [caplog.text]
    )
    assert len(rig.records) == 4
    for secret in (SECRET_A, SECRET_W):
        assert secret not in seen
        assert secret[-12:] not in seen
