"""``anthropic``: Messages API translation against the fake Anthropic upstream."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from bench.fake_providers import FakeProvider, running_fake
from workbench.config.gateway import ModelTarget
from workbench.errors import (
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamError,
)
from workbench.providers import ChatRequest, GenerationParams
from workbench.providers.anthropic import STOP_REASONS, AnthropicClient

KEY = "sk-ant-api03-Tq9Lm2Xv8Rk4Pw7Ny5Bc3Df1Gh6Js0Ae"
MSGS = [
    {"role": "system", "content": "You are terse."},
    {"role": "developer", "content": [{"type": "text", "text": "No emojis."}]},
    {"role": "user", "content": "alpha beta gamma delta"},
    {"role": "assistant", "content": "noted"},
    {"role": "user", "content": "one two three four five"},
]


def _client(base: str, **kw: Any) -> AnthropicClient:
    return AnthropicClient(
        ModelTarget(name="claude", provider="anthropic", base_url=base, model="claude-x",
                    api_key_env="TEST_ANTHROPIC_KEY", **kw)
    )  # fmt: skip


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeProvider]:
    monkeypatch.setenv("TEST_ANTHROPIC_KEY", KEY)
    async with running_fake("anthropic") as f:
        yield f


@pytest.fixture
async def client(fake: FakeProvider) -> AsyncIterator[AnthropicClient]:
    c = _client(fake.base_url, max_new_tokens_default=64)
    yield c
    await c.close()


def _req(**kw: Any) -> ChatRequest:
    params = kw.pop("params", GenerationParams())
    return ChatRequest(model="claude-x", messages=[dict(m) for m in MSGS], params=params, **kw)


async def test_request_translation(client: AnthropicClient, fake: FakeProvider):
    params = GenerationParams(max_tokens=50, temperature=1.7, top_p=0.9, stop=["END"], seed=7)
    await client.chat(_req(params=params, user="u-42"))
    assert fake.last is not None
    body, headers = fake.last["body"], fake.last["headers"]
    assert fake.last["path"] == "/v1/messages"
    assert headers["x-api-key"] == KEY and "Authorization" not in headers
    assert headers["anthropic-version"] == "2023-06-01"
    assert body["system"] == "You are terse.\n\nNo emojis."
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["max_tokens"] == 50
    assert body["temperature"] == 1.0  # Anthropic's range is 0..1
    assert body["top_p"] == 0.9 and body["stop_sequences"] == ["END"]
    assert body["metadata"] == {"user_id": "u-42"}
    assert "seed" not in body and "stream" not in body


async def test_max_tokens_defaults_from_target_and_version_from_config(fake: FakeProvider):
    c = _client(fake.base_url, max_new_tokens_default=33, api_version="2024-01-01")
    try:
        await c.chat(_req())
    finally:
        await c.close()
    assert fake.last is not None
    assert fake.last["body"]["max_tokens"] == 33
    assert fake.last["headers"]["anthropic-version"] == "2024-01-01"


async def test_non_streamed_answer_usage_and_finish(client: AnthropicClient):
    done = await client.chat(_req())
    assert done.text == "one two three four five"
    assert done.finish_reason == "stop"  # end_turn
    assert done.prompt_tokens == 15 and done.completion_tokens == 5
    assert done.upstream_request_id and done.upstream_request_id.startswith("msg_")
    cut = await client.chat(_req(params=GenerationParams(max_tokens=2)))
    assert (cut.text, cut.finish_reason, cut.completion_tokens) == ("one two", "length", 2)
    stop = await client.chat(_req(params=GenerationParams(stop=["four"])))
    assert (stop.text, stop.finish_reason) == ("one two three", "stop")  # stop_sequence


async def test_stream_event_order_is_anthropics(fake: FakeProvider):
    body = {"model": "m", "max_tokens": 3, "stream": True,
            "messages": [{"role": "user", "content": "a b c d"}]}  # fmt: skip
    async with aiohttp.ClientSession() as s:
        async with s.post(fake.base_url + "/v1/messages", json=body,
                          headers={"anthropic-version": "2023-06-01"}) as r:  # fmt: skip
            raw = await r.text()
    events = [line[7:] for line in raw.splitlines() if line.startswith("event: ")]
    assert events == [
        "message_start", "content_block_start", "ping",
        "content_block_delta", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop",
    ]  # fmt: skip


async def test_stream_deltas_and_final_usage(client: AnthropicClient):
    got = [d async for d in client.stream(_req(params=GenerationParams(max_tokens=3)))]
    assert [d.text for d in got[:-1]] == ["one", " two", " three"]
    last = got[-1]
    assert (last.finish_reason, last.prompt_tokens, last.completion_tokens) == ("length", 15, 3)
    assert last.upstream_request_id and last.upstream_request_id.startswith("msg_")


def test_stop_reason_mapping():
    assert STOP_REASONS == {
        "end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length",
        "tool_use": "tool_calls", "pause_turn": "stop", "refusal": "content_filter",
    }  # fmt: skip


async def test_content_parts_images_and_refusals(client: AnthropicClient, fake: FakeProvider):
    parts = [
        {"type": "text", "text": "look"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        {"type": "image_url", "image_url": {"url": "https://img.example/cat.png"}},
    ]
    await client.chat(ChatRequest(model="m", messages=[{"role": "user", "content": parts}]))
    assert fake.last is not None
    blocks = fake.last["body"]["messages"][0]["content"]
    assert blocks[1]["source"] == {
        "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo=",
    }  # fmt: skip
    assert blocks[2]["source"] == {"type": "url", "url": "https://img.example/cat.png"}
    tool = [{"role": "user", "content": "x"}, {"role": "tool", "content": "r", "tool_call_id": "1"}]
    with pytest.raises(InvalidRequestError, match="'tool' messages"):
        await client.chat(ChatRequest(model="m", messages=tool))
    with pytest.raises(InvalidRequestError, match="not a prompt"):
        await client.chat(ChatRequest(model="m", prompt="hi"))


# ---------------------------------------------------------------- hand-made upstreams
async def _serve(frames: list[tuple[str, dict[str, Any]]]) -> tuple[web.AppRunner, str]:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for name, data in frames:
            await resp.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
        return resp

    app = web.Application()
    app.router.add_post("/v1/messages", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]


USAGE = {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 1}
START = ("message_start", {"type": "message_start", "message": {"id": "msg_1", "usage": USAGE}})
DELTA = ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                 "delta": {"type": "text_delta", "text": "Hi"}})  # fmt: skip


@pytest.mark.parametrize(
    "kind, exc",
    [("overloaded_error", ServiceUnavailableError), ("rate_limit_error", RateLimitError),
     ("api_error", UpstreamError)],
)  # fmt: skip
async def test_error_event_mid_stream(kind: str, exc: type[Exception]):
    err = ("error", {"type": "error", "error": {"type": kind, "message": "Overloaded"}})
    runner, base = await _serve([START, DELTA, err])
    c = _client(base)
    got: list[str] = []
    try:
        with pytest.raises(exc) as e:
            async for d in c.stream(_req()):
                got.append(d.text)
        assert type(e.value) is exc and kind in str(e.value)
        assert got == ["Hi"]
    finally:
        await c.close()
        await runner.cleanup()


async def test_tool_use_finish_and_cache_tokens():
    end = [
        ("message_delta", {"type": "message_delta", "delta": {"stop_reason": "tool_use"},
                           "usage": {"output_tokens": 4}}),
        ("message_stop", {"type": "message_stop"}),
    ]  # fmt: skip
    runner, base = await _serve([START, ("ping", {"type": "ping"}), DELTA, *end])
    c = _client(base)
    try:
        got = [d async for d in c.stream(_req())]
    finally:
        await c.close()
        await runner.cleanup()
    assert got[0].text == "Hi"
    assert (got[-1].finish_reason, got[-1].prompt_tokens, got[-1].completion_tokens) == (
        "tool_calls", 15, 4,
    )  # fmt: skip
