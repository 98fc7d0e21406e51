"""The openai-compatible client against small aiohttp upstreams that misbehave on purpose."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from bench.fake_providers import running_fake
from workbench.config.gateway import ModelTarget
from workbench.errors import (
    InvalidRequestError,
    RateLimitError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
)
from workbench.providers import ChatRequest
from workbench.providers.openai_compat import OpenAICompatClient


async def _serve(handler) -> tuple[web.AppRunner, str]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    return runner, f"http://127.0.0.1:{port}/v1"


def _client(base: str, **kw) -> OpenAICompatClient:
    return OpenAICompatClient(ModelTarget(name="t", provider="openai-compatible", base_url=base,
                                          model="m", **kw))


def _req(stream: bool = False) -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], stream=stream)


@pytest.mark.parametrize("status, exc", [(429, RateLimitError), (400, InvalidRequestError),
                                         (500, UpstreamError), (503, UpstreamError),
                                         (504, UpstreamTimeoutError)])
async def test_upstream_statuses_map_to_our_errors(status, exc):
    async def h(request):
        return web.json_response({"error": {"message": f"nope {status}"}}, status=status)

    runner, base = await _serve(h)
    c = _client(base)
    try:
        with pytest.raises(exc) as e:
            await c.chat(_req())
        assert f"nope {status}" in e.value.message
    finally:
        await c.close()
        await runner.cleanup()


async def test_invalid_upstream_body_is_502():
    async def h(request):
        return web.Response(text="<html>oops</html>", content_type="text/html")

    runner, base = await _serve(h)
    c = _client(base)
    try:
        with pytest.raises(UpstreamError):
            await c.chat(_req())
    finally:
        await c.close()
        await runner.cleanup()


async def test_read_timeout_is_504():
    async def h(request):
        await asyncio.sleep(2)
        return web.json_response({})

    runner, base = await _serve(h)
    c = _client(base, timeouts={"connect": 1, "read": 0.2})
    try:
        with pytest.raises(UpstreamTimeoutError):
            await c.chat(_req())
    finally:
        await c.close()
        await runner.cleanup()


async def test_key_from_secret_file_and_stream_error_mid_way(tmp_path):
    seen = {}

    async def h(request):
        seen["auth"] = request.headers.get("Authorization")
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"id":"u1","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
        await resp.write(b'data: {"error": {"message": "upstream melted"}}\n\n')
        return resp

    secret = tmp_path / "key"
    secret.write_text("sk-from-file\n")
    runner, base = await _serve(h)
    c = _client(base, api_key_file=str(secret))
    got = []
    try:
        with pytest.raises(UpstreamError, match="melted"):
            async for d in c.stream(_req(stream=True)):
                got.append(d.text)
        assert got == ["hi"]
        assert seen["auth"] == "Bearer sk-from-file"
    finally:
        await c.close()
        await runner.cleanup()


async def test_unreachable_is_502():
    c = _client("http://127.0.0.1:9/v1", timeouts={"connect": 0.5, "read": 1})
    try:
        with pytest.raises(UpstreamError, match="unreachable"):
            await c.chat(_req())
    finally:
        await c.close()


async def test_malformed_sse_chunk_raises_instead_of_being_skipped():
    async def h(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"id":"u1","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
        await resp.write(b'data: {"id":"u1","choices":[{"index":0,"delta":{"cont\n\n')
        await resp.write(b"data: [DONE]\n\n")
        return resp

    runner, base = await _serve(h)
    c = _client(base)
    got = []
    try:
        with pytest.raises(UpstreamMalformedError, match="malformed SSE chunk"):
            async for d in c.stream(_req(stream=True)):
                got.append(d.text)
        assert got == ["hi"]
    finally:
        await c.close()
        await runner.cleanup()


async def test_stream_without_done_is_broken_not_truncated():
    async def h(request):
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        await resp.write(b'data: {"id":"u1","choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n')
        return resp  # a clean end of the HTTP body, but no finish and no [DONE]

    runner, base = await _serve(h)
    c = _client(base)
    try:
        with pytest.raises(UpstreamError) as e:
            async for _ in c.stream(_req(stream=True)):
                pass
        assert e.value.code == "upstream_stream_broken"
    finally:
        await c.close()
        await runner.cleanup()


async def test_completions_and_embeddings_against_the_fake_openai():
    async with running_fake("openai") as fake:
        c = _client(fake.base_url)
        try:
            done = await c.chat(ChatRequest(model="m", prompt="tell me a story"))
            got = [d async for d in c.stream(ChatRequest(model="m", prompt="a b c"))]
            emb = await c.embed(["x y", "z"])
        finally:
            await c.close()
    assert (done.text, done.finish_reason, done.completion_tokens) == ("tell me a story", "stop", 4)
    assert "".join(d.text for d in got) == "a b c" and got[-1].completion_tokens == 3
    assert len(emb.vectors) == 2 and emb.prompt_tokens == 3 and emb.model == "m"
