"""The shared remote-provider base: Retry-After, status mapping, passthrough, SSE, redirects."""

from __future__ import annotations

import asyncio
import time
from email.utils import formatdate
from typing import Any

import pytest
from aiohttp import web

from bench.fake_providers import running_fake
from workbench.config.gateway import ModelTarget
from workbench.errors import (
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
)
from workbench.providers import ChatRequest
from workbench.providers._http import (
    NEVER_FIELDS,
    parse_retry_after,
    passthrough,
    status_error,
)
from workbench.providers.openai_compat import OpenAICompatClient


def test_retry_after_forms():
    assert parse_retry_after({"Retry-After": "7"}) == 7.0
    assert parse_retry_after({"Retry-After": "0.25"}) == 0.25
    assert parse_retry_after({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "junk", "Retry-After": "9"}) == 9.0
    later = parse_retry_after({"Retry-After": formatdate(time.time() + 30, usegmt=True)})
    assert later is not None and 25 <= later <= 31
    assert parse_retry_after({"Retry-After": formatdate(time.time() - 60, usegmt=True)}) == 0.0
    for bad in ("soon", "-3", ""):
        assert parse_retry_after({"Retry-After": bad}) is None
    assert parse_retry_after({}) is None


@pytest.mark.parametrize(
    "status, cls, code",
    [
        (429, RateLimitError, "upstream_rate_limited"),
        (400, InvalidRequestError, "upstream_rejected"),
        (404, InvalidRequestError, "upstream_rejected"),
        (422, InvalidRequestError, "upstream_rejected"),
        (401, UpstreamError, "upstream_auth_failed"),
        (403, UpstreamError, "upstream_auth_failed"),
        (408, UpstreamTimeoutError, "upstream_timeout"),
        (504, UpstreamTimeoutError, "upstream_timeout"),
        (503, ServiceUnavailableError, "upstream_unavailable"),
        (529, ServiceUnavailableError, "upstream_unavailable"),
        (500, UpstreamError, "upstream_error"),
        (502, UpstreamError, "upstream_error"),
    ],
)
def test_status_mapping(status: int, cls: type, code: str):
    err = status_error(status, "detail", "upstream t", 3.0)
    assert type(err) is cls and err.code == code
    assert (err.upstream_status, err.retry_after_s) == (status, 3.0)
    assert err.message == f"upstream t answered {status}: detail"


def test_passthrough_allow_list_opt_in_and_never():
    extra = {"tools": [1], "store": True, "service_tier": "flex", "base_url": "x", "weird": 1}
    assert passthrough(extra, {"tools", "store"}) == {"tools": [1]}  # store needs opting in
    assert passthrough(extra, {"tools"}, ["store", "weird"]) == {
        "tools": [1], "store": True, "weird": 1,
    }  # fmt: skip
    assert passthrough(extra, {"base_url"}, ["base_url"]) == {}  # never, whatever the lists say
    assert {"base_url", "api_key", "extra_headers", "headers", "model"} <= NEVER_FIELDS


# ---------------------------------------------------------------- hand-made upstreams
async def _serve(handler: Any) -> tuple[web.AppRunner, int]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


def _client(base: str) -> OpenAICompatClient:
    return OpenAICompatClient(
        ModelTarget(name="t", provider="openai-compatible", base_url=base, model="m",
                    api_key_env="TEST_HTTP_KEY", timeouts={"connect": 1, "read": 2})
    )  # fmt: skip


def _req(stream: bool = False) -> ChatRequest:
    return ChatRequest(model="m", messages=[{"role": "user", "content": "x"}], stream=stream)


def _sse_handler(pieces: list[bytes]) -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await resp.prepare(request)
        for p in pieces:
            await resp.write(p)
            await asyncio.sleep(0.01)  # separate TCP writes: lines split across reads
        return resp

    return handler


async def test_sse_parser_crlf_comments_multiline_and_split_lines():
    pieces = [
        b": keep-alive comment\r\n\r\n",
        b'data: {"id":"c1","choices":[{"index":0,"delta":{"content":"He',
        b'llo"}}]}\r\n\r\n',
        b"event: message\r\n",
        b'data: {"id":"c1","choices":[{"index":0,\r\ndata: "delta":{"content":" you"}}]}\r\n\r\n',
        b'data: {"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}\n\n',
        b"data: [DONE]\n\n",
    ]
    runner, port = await _serve(_sse_handler(pieces))
    c = _client(f"http://127.0.0.1:{port}/v1")
    try:
        got = [d async for d in c.stream(_req(True))]
    finally:
        await c.close()
        await runner.cleanup()
    assert [d.text for d in got[:-1]] == ["Hello", " you"]
    assert (got[-1].prompt_tokens, got[-1].completion_tokens) == (3, 2)


async def test_unterminated_last_event_is_not_dispatched():
    # "[DONE]" without its newline: an incomplete event, so the stream never finished
    runner, port = await _serve(_sse_handler([b'data: {"choices":[]}\n\n', b"data: [DONE]"]))
    c = _client(f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(UpstreamError) as e:
            [d async for d in c.stream(_req(True))]
        assert e.value.code == "upstream_stream_broken"
    finally:
        await c.close()
        await runner.cleanup()


async def test_json_body_that_is_not_an_object_is_malformed():
    async def handler(request: web.Request) -> web.Response:
        return web.json_response([1, 2, 3])

    runner, port = await _serve(handler)
    c = _client(f"http://127.0.0.1:{port}/v1")
    try:
        with pytest.raises(UpstreamMalformedError):
            await c.chat(_req())
    finally:
        await c.close()
        await runner.cleanup()


async def test_redirects_are_not_followed(monkeypatch):
    monkeypatch.setenv("TEST_HTTP_KEY", "sk-must-not-travel-0123456789")
    async with running_fake("openai") as elsewhere:

        async def handler(request: web.Request) -> web.Response:
            raise web.HTTPTemporaryRedirect(elsewhere.base_url + "/chat/completions")

        runner, port = await _serve(handler)
        c = _client(f"http://127.0.0.1:{port}/v1")
        try:
            with pytest.raises(UpstreamError, match="redirects are not followed") as e:
                await c.chat(_req())
            assert e.value.upstream_status == 307
        finally:
            await c.close()
            await runner.cleanup()
        assert elsewhere.stats["requests"] == 0  # the key never reached the other host


def test_session_is_created_on_each_running_loop():
    """A client first used on one loop works on another (a notebook after asyncio.run)."""

    async def on_second_loop(c: OpenAICompatClient) -> str:
        text = (await c.chat(_req())).text
        await c.close()
        return text

    async def main() -> None:
        async with running_fake("openai") as fake:
            c = _client(fake.base_url)
            assert (await c.chat(_req())).text == "x"
            first = c._session
            other = asyncio.new_event_loop()
            try:
                text = await asyncio.get_running_loop().run_in_executor(
                    None, other.run_until_complete, on_second_loop(c)
                )
            finally:
                other.close()
            assert text == "x"
            await asyncio.sleep(0.05)  # the first loop closes its own session
            assert first is not None and first.closed

    asyncio.run(main())
