"""The request chain in-process: every request answered and recorded exactly once,
with the status the client saw."""

from __future__ import annotations

import json

import pytest

from tests.pipeline.conftest import InProcess, gateway_config, in_process
from workbench.pipeline import Incoming

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "hello there world"}]}


async def test_chat_answered_and_recorded(gw: InProcess) -> None:
    r = await gw.client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    assert r.json()["choices"][0]["message"]["content"] == "hello there world"
    assert r.headers["x-workbench-target"] == "echo"
    assert r.headers["x-workbench-attempts"] == "1"
    rec = gw.only_record()
    assert rec["status"] == "ok" and rec["http_status"] == 200
    assert rec["target"] == "echo" and rec["provider"] == "echo"
    assert rec["request_id"] == r.headers["x-workbench-request-id"]
    attempts = json.loads(rec["routing_attempts"])
    assert [a["status"] for a in attempts] == ["ok"]


async def test_stream_recorded_when_it_ends(gw: InProcess) -> None:
    r = await gw.client.post("/v1/chat/completions", json={**CHAT, "stream": True})
    assert r.status_code == 200
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    text = "".join(
        (json.loads(e)["choices"][0]["delta"].get("content") or "")
        for e in events[:-1]
        if json.loads(e)["choices"]
    )
    assert text == "hello there world"
    rec = gw.only_record()
    assert rec["status"] == "ok" and rec["stream"] is True
    assert rec["response_body"] == "hello there world"


async def test_remote_target_through_openai_compatible(gw: InProcess) -> None:
    r = await gw.client.post("/v1/chat/completions", json={**CHAT, "model": "remote"})
    assert r.status_code == 200, r.text
    rec = gw.only_record()
    assert rec["model_served"] == "fake-model" and rec["provider"] == "openai-compatible"


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/v1/chat/completions", b"{not json", 400),
        ("/v1/chat/completions", json.dumps({**CHAT, "model": "nope"}).encode(), 404),
        ("/v1/embeddings", json.dumps({"model": "echo", "input": "x"}).encode(), 400),
        ("/nowhere", b"", 404),
        ("/v1/nowhere", b"", 404),
    ],
)
async def test_rejections_are_recorded(gw: InProcess, path: str, body: bytes, status: int) -> None:
    r = await gw.client.post(path, content=body)
    assert r.status_code == status
    assert set(r.json()["error"]) >= {"message", "type", "code", "param"}
    rec = gw.only_record()
    assert rec["http_status"] == status and rec["status"] == "rejected"


async def test_wrong_method_is_405_and_recorded(gw: InProcess) -> None:
    r = await gw.client.get("/v1/chat/completions")
    assert r.status_code == 405
    assert gw.only_record()["http_status"] == 405


async def test_unreachable_target_is_502_not_ok(gw: InProcess) -> None:
    r = await gw.client.post("/v1/chat/completions", json={**CHAT, "model": "down"})
    assert r.status_code == 502
    assert r.json()["error"]["code"] == "upstream_unreachable"
    rec = gw.only_record()
    assert rec["status"] == "error" and rec["http_status"] == 502
    assert "127.0.0.1" not in r.text  # the upstream's address is not echoed


async def test_a_bug_is_a_500_and_recorded_as_500(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url))

    async def broken(req):  # type: ignore[no-untyped-def]
        raise RuntimeError("boom")

    ip.pipeline.targets["echo"].backend.chat = broken  # type: ignore[method-assign]
    r = await ip.client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 500
    assert r.json()["error"]["type"] == "internal_error"
    rec = ip.only_record()
    assert rec["http_status"] == 500 and rec["status"] == "error"
    await ip.client.aclose()


async def test_models_lists_targets(gw: InProcess) -> None:
    r = await gw.client.get("/v1/models")
    assert {m["id"] for m in r.json()["data"]} == {"echo", "remote", "down"}
    r = await gw.client.get("/v1/models/echo")
    assert r.json()["id"] == "echo"
    r = await gw.client.get("/v1/models/zzz")
    assert r.status_code == 404
    assert len(gw.records) == 3


async def test_pipeline_runs_without_http(gw: InProcess) -> None:
    async def body(limit: int) -> bytes:
        return json.dumps(CHAT).encode()

    reply = await gw.pipeline.handle(
        Incoming(kind="chat", endpoint="/v1/chat/completions", read_body=body)
    )
    assert reply.status == 200
    assert json.loads(reply.body or b"")["choices"][0]["message"]["content"]
    assert gw.only_record()["status"] == "ok"


async def test_deferred_record_waits_for_the_reply_to_go_out(gw: InProcess) -> None:
    """The HTTP adapter defers the record until the reply was sent; it is made once."""

    async def body(limit: int) -> bytes:
        return json.dumps(CHAT).encode()

    inc = Incoming(kind="chat", endpoint="/v1/chat/completions", read_body=body)
    inc.defer_record = True
    reply = await gw.pipeline.handle(inc)
    assert reply.status == 200 and reply.sent is not None
    assert gw.records == []  # not before the host says the reply went out
    reply.sent()
    reply.sent()
    assert gw.only_record()["status"] == "ok"


async def test_deferred_reply_dropped_unsent_is_recorded_as_not_answered(gw: InProcess) -> None:
    import gc

    async def body(limit: int) -> bytes:
        return json.dumps(CHAT).encode()

    inc = Incoming(kind="chat", endpoint="/v1/chat/completions", read_body=body)
    inc.defer_record = True
    reply = await gw.pipeline.handle(inc)
    del reply  # the task was cut before the host could send it
    gc.collect()
    rec = gw.only_record()
    assert rec["http_status"] == 499 and rec["error_code"] == "client_disconnected"


async def test_draining_refuses_new_requests(upstream) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from workbench.gateway.app import create_app

    ip = await in_process(gateway_config(upstream.base_url))
    app = create_app(ip.pipeline, draining=lambda: True)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://gw"
    ) as client:
        r = await client.post("/v1/chat/completions", json=CHAT)
        assert r.status_code == 503
        assert r.json()["error"]["code"] == "shutting_down"
        h = await client.get("/health")
        assert h.status_code == 503 and h.json()["status"] == "draining"
    assert ip.only_record()["http_status"] == 503
    await ip.client.aclose()
