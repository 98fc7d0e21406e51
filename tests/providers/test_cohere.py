"""``cohere``: v2 chat translation against the fake Cohere upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.fake_providers import FakeProvider, running_fake
from workbench.config.gateway import ModelTarget
from workbench.errors import InvalidRequestError, UpstreamError
from workbench.providers import ChatRequest, GenerationParams
from workbench.providers.cohere import CohereClient

KEY = "Wq3xT8mLp2Rv6Yk9Nb4Cd7Fg1Hj5Ks0Ae2Zu8Io"
MSGS = [
    {"role": "system", "content": "Reply plainly."},
    {"role": "developer", "content": "No lists."},
    {"role": "user", "content": "sun moon stars sky"},
]


def _client(base: str) -> CohereClient:
    return CohereClient(
        ModelTarget(name="co", provider="cohere", base_url=base, model="command-x",
                    api_key_env="TEST_COHERE_KEY")
    )  # fmt: skip


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeProvider]:
    monkeypatch.setenv("TEST_COHERE_KEY", KEY)
    async with running_fake("cohere") as f:
        yield f


@pytest.fixture
async def client(fake: FakeProvider) -> AsyncIterator[CohereClient]:
    c = _client(fake.base_url)
    yield c
    await c.close()


def _req(**kw: Any) -> ChatRequest:
    params = kw.pop("params", GenerationParams())
    return ChatRequest(model="command-x", messages=[dict(m) for m in MSGS], params=params, **kw)


async def test_request_translation(client: CohereClient, fake: FakeProvider):
    params = GenerationParams(max_tokens=9, temperature=0.2, top_p=0.7, stop=["END"], seed=5)
    await client.chat(_req(params=params))
    assert fake.last is not None
    assert fake.last["path"] == "/v2/chat"
    assert fake.last["headers"]["Authorization"] == f"Bearer {KEY}"
    body = fake.last["body"]
    assert body["model"] == "command-x" and body["stream"] is False
    assert [m["role"] for m in body["messages"]] == ["system", "system", "user"]
    assert body["messages"][0]["content"] == "Reply plainly."
    assert (body["max_tokens"], body["temperature"], body["p"]) == (9, 0.2, 0.7)
    assert (body["stop_sequences"], body["seed"]) == (["END"], 5)


async def test_non_streamed_answer_usage_and_finish(client: CohereClient):
    done = await client.chat(_req())
    assert (done.text, done.finish_reason) == ("sun moon stars sky", "stop")
    assert (done.prompt_tokens, done.completion_tokens) == (8, 4)  # billed units
    cut = await client.chat(_req(params=GenerationParams(max_tokens=2)))
    assert (cut.text, cut.finish_reason) == ("sun moon", "length")
    stop = await client.chat(_req(params=GenerationParams(stop=["stars"])))
    assert (stop.text, stop.finish_reason) == ("sun moon", "stop")


async def test_stream_event_order_is_coheres(fake: FakeProvider):
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "a b"}]}
    async with aiohttp.ClientSession() as s, s.post(fake.base_url + "/v2/chat", json=body) as r:
        raw = await r.text()
    events = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert events == [
        "message-start", "content-start", "content-delta", "content-delta",
        "content-end", "message-end",
    ]  # fmt: skip


async def test_stream_deltas_and_final_usage(client: CohereClient):
    got = [d async for d in client.stream(_req(params=GenerationParams(max_tokens=3)))]
    assert [d.text for d in got[:-1]] == ["sun", " moon", " stars"]
    last = got[-1]
    assert (last.finish_reason, last.prompt_tokens, last.completion_tokens) == ("length", 8, 3)
    assert last.upstream_request_id


async def test_tool_messages_are_refused(client: CohereClient):
    msgs = [{"role": "user", "content": "x"}, {"role": "tool", "content": "r"}]
    with pytest.raises(InvalidRequestError, match="'tool' messages"):
        await client.chat(ChatRequest(model="m", messages=msgs))


async def _serve(reply: dict[str, Any]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(reply)

    app = web.Application()
    app.router.add_post("/v2/chat", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "finish, usage, expect",
    [
        ("TOOL_CALL", {"tokens": {"input_tokens": 3, "output_tokens": 2}}, ("tool_calls", 3, 2)),
        ("STOP_SEQUENCE", {}, ("stop", 0, 0)),
        ("ERROR", {}, None),
    ],
)
async def test_finish_reasons_and_token_fallback(finish, usage, expect):
    message = {"role": "assistant", "content": [{"type": "text", "text": "ok"}]}
    reply = {"id": "c1", "finish_reason": finish, "usage": usage, "message": message}
    runner, base = await _serve(reply)
    c = _client(base)
    try:
        if expect is None:
            with pytest.raises(UpstreamError, match="ERROR"):
                await c.chat(_req())
        else:
            done = await c.chat(_req())
            assert (done.finish_reason, done.prompt_tokens, done.completion_tokens) == expect
    finally:
        await c.close()
        await runner.cleanup()
    assert json.dumps(reply)  # the reply was a real JSON object
