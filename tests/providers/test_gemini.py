"""``gemini``: generateContent / streamGenerateContent translation against the fake."""

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
from workbench.providers.gemini import GeminiClient, finish_reason

KEY = "AIzaSyD4x9Lm2Qw8Rt5Yu7Io3Pa6Sd1Fg0Hj2Kl"
MSGS = [
    {"role": "system", "content": "Be exact."},
    {"role": "user", "content": "red green blue"},
    {"role": "assistant", "content": "colours"},
    {"role": "user", "content": "north east south west"},
]


def _client(base: str, **kw: Any) -> GeminiClient:
    return GeminiClient(
        ModelTarget(name="gem", provider="gemini", base_url=base, model="gemini-x",
                    api_key_env="TEST_GEMINI_KEY", **kw)
    )  # fmt: skip


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeProvider]:
    monkeypatch.setenv("TEST_GEMINI_KEY", KEY)
    async with running_fake("gemini") as f:
        yield f


@pytest.fixture
async def client(fake: FakeProvider) -> AsyncIterator[GeminiClient]:
    c = _client(fake.base_url)
    yield c
    await c.close()


def _req(**kw: Any) -> ChatRequest:
    params = kw.pop("params", GenerationParams())
    return ChatRequest(model="gemini-x", messages=[dict(m) for m in MSGS], params=params, **kw)


async def test_request_translation(client: GeminiClient, fake: FakeProvider):
    params = GenerationParams(max_tokens=40, temperature=0.3, top_p=0.8, stop=["END"], seed=11)
    await client.chat(_req(params=params))
    assert fake.last is not None
    assert fake.last["path"] == "/v1beta/models/gemini-x:generateContent"
    assert fake.last["query"] == {}  # the key is never in the URL
    assert fake.last["headers"]["x-goog-api-key"] == KEY
    body = fake.last["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "Be exact."}]}
    assert [c["role"] for c in body["contents"]] == ["user", "model", "user"]
    assert body["contents"][2]["parts"] == [{"text": "north east south west"}]
    assert body["generationConfig"] == {
        "maxOutputTokens": 40, "temperature": 0.3, "topP": 0.8,
        "stopSequences": ["END"], "seed": 11,
    }  # fmt: skip


async def test_api_version_from_config(fake: FakeProvider):
    c = _client(fake.base_url, api_version="v1")
    try:
        await c.chat(_req())
    finally:
        await c.close()
    assert fake.last is not None and fake.last["path"] == "/v1/models/gemini-x:generateContent"


async def test_non_streamed_answer_usage_and_finish(client: GeminiClient):
    done = await client.chat(_req())
    assert (done.text, done.finish_reason) == ("north east south west", "stop")
    assert (done.prompt_tokens, done.completion_tokens) == (10, 4)
    assert done.upstream_request_id
    cut = await client.chat(_req(params=GenerationParams(max_tokens=1)))
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("north", "length", 1)
    stop = await client.chat(_req(params=GenerationParams(stop=["south"])))
    assert (stop.text, stop.finish_reason) == ("north east", "stop")


async def test_stream_frames_have_no_done_and_end_with_finish_reason(fake: FakeProvider):
    body = {"contents": [{"role": "user", "parts": [{"text": "a b c"}]}]}
    url = fake.base_url + "/v1beta/models/g:streamGenerateContent?alt=sse"
    async with aiohttp.ClientSession() as s, s.post(url, json=body) as r:
        raw = await r.text()
    frames = [json.loads(line[6:]) for line in raw.split("\r\n") if line.startswith("data: ")]
    assert "[DONE]" not in raw and len(frames) == 3
    assert [("finishReason" in f["candidates"][0]) for f in frames] == [False, False, True]
    assert frames[-1]["usageMetadata"]["candidatesTokenCount"] == 3


async def test_stream_deltas_and_final_usage(client: GeminiClient, fake: FakeProvider):
    got = [d async for d in client.stream(_req(params=GenerationParams(max_tokens=3)))]
    assert fake.last is not None
    assert fake.last["path"].endswith(":streamGenerateContent")
    assert fake.last["query"] == {"alt": "sse"}
    assert [d.text for d in got[:-1]] == ["north", " east", " south"]
    assert (got[-1].finish_reason, got[-1].prompt_tokens, got[-1].completion_tokens) == (
        "length", 10, 3,
    )  # fmt: skip


def test_finish_reason_mapping():
    assert finish_reason("STOP") == "stop"
    assert finish_reason("MAX_TOKENS") == "length"
    for r in ("SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"):
        assert finish_reason(r) == "content_filter"
    assert finish_reason("OTHER") == "stop"


async def test_images_as_inline_data_only(client: GeminiClient, fake: FakeProvider):
    img = {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}}
    msgs = [{"role": "user", "content": [{"type": "text", "text": "what"}, img]}]
    await client.chat(ChatRequest(model="g", messages=msgs))
    assert fake.last is not None
    parts = fake.last["body"]["contents"][0]["parts"]
    assert parts[1] == {"inlineData": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}
    remote = {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}}
    with pytest.raises(InvalidRequestError, match="data URLs"):
        await client.chat(ChatRequest(model="g", messages=[{"role": "user", "content": [remote]}]))


# ---------------------------------------------------------------- hand-made upstreams
async def _serve(payloads: list[dict[str, Any]], stream: bool) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        if not stream:
            return web.json_response(payloads[0])
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for p in payloads:
            await resp.write(f"data: {json.dumps(p)}\r\n\r\n".encode())
        return resp

    app = web.Application()
    app.router.add_post("/v1beta/models/{target}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


async def test_blocked_prompt_is_content_filter():
    blocked = {
        "promptFeedback": {"blockReason": "SAFETY"},
        "usageMetadata": {"promptTokenCount": 9},
    }
    runner, base = await _serve([blocked], stream=False)
    c = _client(base)
    try:
        done = await c.chat(_req())
    finally:
        await c.close()
        await runner.cleanup()
    assert (done.text, done.finish_reason, done.prompt_tokens) == ("", "content_filter", 9)


async def test_safety_stop_mid_stream_and_thought_tokens():
    frames = [
        {"candidates": [{"content": {"parts": [{"text": "thinking", "thought": True}]}}]},
        {"candidates": [{"content": {"parts": [{"text": "Sure"}]}}]},
        {"candidates": [{"content": {"parts": []}, "finishReason": "SAFETY"}],
         "usageMetadata": {"promptTokenCount": 4, "candidatesTokenCount": 1,
                           "thoughtsTokenCount": 6}},
    ]  # fmt: skip
    runner, base = await _serve(frames, stream=True)
    c = _client(base)
    try:
        got = [d async for d in c.stream(_req())]
    finally:
        await c.close()
        await runner.cleanup()
    assert [d.text for d in got[:-1]] == ["Sure"]  # thoughts are not answer text
    assert (got[-1].finish_reason, got[-1].prompt_tokens, got[-1].completion_tokens) == (
        "content_filter", 4, 7,
    )  # fmt: skip


async def test_error_frame_mid_stream():
    frames = [
        {"candidates": [{"content": {"parts": [{"text": "Hi"}]}}]},
        {"error": {"code": 500, "message": "backend exploded", "status": "INTERNAL"}},
    ]
    runner, base = await _serve(frames, stream=True)
    c = _client(base)
    try:
        with pytest.raises(UpstreamError, match="backend exploded"):
            async for _ in c.stream(_req()):
                pass
    finally:
        await c.close()
        await runner.cleanup()
