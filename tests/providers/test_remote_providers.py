"""Every remote provider against its fake upstream: faults, credentials, passthrough safety.

One table drives all five wire formats; each test starts the provider's fake on a free
loopback port (bench.fake_providers) and calls the real client built by the registry.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import web

from bench._proc import free_port
from bench.fake_providers import FakeProvider, running_fake
from workbench.config.gateway import ModelTarget, parse_config
from workbench.errors import (
    ConfigError,
    InvalidRequestError,
    RateLimitError,
    ServiceUnavailableError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamMalformedError,
    UpstreamTimeoutError,
    WorkbenchError,
)
from workbench.providers import ChatRequest, registry

KEY = "sk-live-Zq8TRm2xWv7Kp4LnY6bC9dF3gH5jS1aE"
KEY_ENV = "TEST_REMOTE_PROVIDER_KEY"
FORMATS = {
    "openai-compatible": ("openai", {}),
    "azure-openai": ("azure", {"deployment": "dep-1", "api_version": "2024-10-21"}),
    "anthropic": ("anthropic", {}),
    "gemini": ("gemini", {}),
    "cohere": ("cohere", {}),
}
PROVIDERS = list(FORMATS)
#: Where each provider must put the key, and headers that must not carry it.
KEY_HEADER = {
    "openai-compatible": ("Authorization", f"Bearer {KEY}"),
    "azure-openai": ("api-key", KEY),
    "anthropic": ("x-api-key", KEY),
    "gemini": ("x-goog-api-key", KEY),
    "cohere": ("Authorization", f"Bearer {KEY}"),
}


@dataclass
class Rig:
    provider: str
    fake: FakeProvider
    client: Any

    def headers(self) -> dict[str, str]:
        assert self.fake.last is not None
        return {k.lower(): v for k, v in self.fake.last["headers"].items()}

    def body(self) -> dict[str, Any]:
        assert self.fake.last is not None
        return self.fake.last["body"]


def target(provider: str, base_url: str, **kw: Any) -> ModelTarget:
    extra = {**FORMATS[provider][1], **kw}
    return ModelTarget(
        name="primary", provider=provider, base_url=base_url, model="m-1",
        api_key_env=KEY_ENV, **extra,
    )  # fmt: skip


def client_for(provider: str, base_url: str, **kw: Any) -> Any:
    t = target(provider, base_url, **kw)
    registry.get(provider).validate_target(t)
    return registry.get(provider).factory(t)


@pytest.fixture
def target_kw() -> dict[str, Any]:
    """Extra target settings; tests override it with ``parametrize("target_kw", ...)``."""
    return {}


@pytest.fixture(params=PROVIDERS)
async def rig(request, monkeypatch, target_kw) -> AsyncIterator[Rig]:
    monkeypatch.setenv(KEY_ENV, KEY)
    provider = request.param
    async with running_fake(FORMATS[provider][0]) as fake:
        client = client_for(provider, fake.base_url, **target_kw)
        try:
            yield Rig(provider, fake, client)
        finally:
            await client.close()


def req(stream: bool = False, **kw: Any) -> ChatRequest:
    msgs = [
        {"role": "system", "content": "answer briefly"},
        {"role": "user", "content": "one two three four five six"},
    ]
    return ChatRequest(model="m-1", messages=msgs, stream=stream, **kw)


async def call(client: Any, stream: bool, r: ChatRequest | None = None) -> list[Any]:
    r = r or req(stream)
    if not stream:
        return [await client.chat(r)]
    return [d async for d in client.stream(r)]


def assert_clean(exc: WorkbenchError, base_url: str) -> None:
    """No key, no base URL, no host:port in anything the error would show."""
    host_port = base_url.split("//", 1)[1].split("/", 1)[0]
    shown = [str(exc), json.dumps(exc.to_body()), repr(exc)]
    for text in shown:
        assert KEY not in text
        assert KEY[:12] not in text
        assert base_url not in text
        assert host_port not in text
    assert exc.__cause__ is None  # aiohttp exceptions (which name the host) are not chained
    assert "upstream primary" in exc.message


# ---------------------------------------------------------------------------- statuses
@pytest.mark.parametrize("stream", [False, True])
async def test_429_carries_retry_after_seconds(rig: Rig, stream: bool):
    rig.fake.set_fault(mode="429", retry_after=1.5, count=1)
    with pytest.raises(RateLimitError) as e:
        await call(rig.client, stream)
    assert e.value.upstream_status == 429
    assert e.value.retry_after_s == 1.5
    assert e.value.code == "upstream_rate_limited"
    assert_clean(e.value, rig.fake.base_url)
    assert (await call(rig.client, stream))[-1].finish_reason == "stop"  # count=1: then ok


async def test_429_retry_after_ms_wins_over_seconds(rig: Rig):
    rig.fake.set_fault(mode="429", retry_after=3, retry_after_ms=200)
    with pytest.raises(RateLimitError) as e:
        await call(rig.client, False)
    assert e.value.retry_after_s == pytest.approx(0.2)


@pytest.mark.parametrize(
    "mode, exc, code",
    [
        ("500", UpstreamError, "upstream_error"),
        ("503", ServiceUnavailableError, "upstream_unavailable"),
        ("504", UpstreamTimeoutError, "upstream_timeout"),
        ("400", InvalidRequestError, "upstream_rejected"),
        ("401", UpstreamError, "upstream_auth_failed"),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
async def test_error_statuses_map_to_our_errors(rig: Rig, mode, exc, code, stream):
    rig.fake.set_fault(mode=mode, retry_after=2)
    with pytest.raises(exc) as e:
        await call(rig.client, stream)
    assert type(e.value) is exc
    assert e.value.code == code
    assert e.value.upstream_status == int(mode)
    assert e.value.retry_after_s == 2.0
    assert f"fake {mode} error" in e.value.message  # the provider's own error text survives
    assert_clean(e.value, rig.fake.base_url)


# ---------------------------------------------------------------------------- transport
@pytest.mark.parametrize("target_kw", [{"timeouts": {"connect": 1, "read": 0.3}}])
@pytest.mark.parametrize("stream", [False, True])
async def test_hang_past_read_timeout(rig: Rig, stream: bool):
    rig.fake.set_fault(mode="hang", hang_s=30)
    with pytest.raises(UpstreamTimeoutError) as e:
        await call(rig.client, stream)
    assert e.value.code == "upstream_timeout"
    assert_clean(e.value, rig.fake.base_url)


async def test_drop_mid_stream_is_stream_broken(rig: Rig):
    rig.fake.set_fault(mode="drop_mid_stream")
    got: list[Any] = []
    with pytest.raises(UpstreamError) as e:
        async for d in rig.client.stream(req(True)):
            got.append(d)
    assert e.value.code == "upstream_stream_broken"
    assert got and all(d.finish_reason is None for d in got)  # text came, then the error
    assert_clean(e.value, rig.fake.base_url)


async def test_stream_without_terminal_event_is_stream_broken(rig: Rig):
    rig.fake.set_fault(mode="cut_stream")
    got: list[Any] = []
    with pytest.raises(UpstreamError) as e:
        async for d in rig.client.stream(req(True)):
            got.append(d)
    assert e.value.code == "upstream_stream_broken"
    assert all(d.finish_reason is None for d in got)  # never a final delta


async def test_drop_mid_body_is_a_connection_error(rig: Rig):
    rig.fake.set_fault(mode="drop_mid_stream")
    with pytest.raises(UpstreamConnectionError) as e:
        await rig.client.chat(req())
    assert_clean(e.value, rig.fake.base_url)


@pytest.mark.parametrize("mode", ["malformed_json", "cut_stream"])
async def test_malformed_json_body(rig: Rig, mode: str):
    rig.fake.set_fault(mode=mode)
    with pytest.raises(UpstreamMalformedError) as e:
        await rig.client.chat(req())
    assert e.value.code == "upstream_malformed"
    assert_clean(e.value, rig.fake.base_url)


async def test_malformed_sse_chunk(rig: Rig):
    rig.fake.set_fault(mode="malformed_sse")
    with pytest.raises(UpstreamMalformedError) as e:
        await call(rig.client, True)
    assert "malformed SSE" in e.value.message


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("stream", [False, True])
async def test_down_port_is_unreachable(provider: str, stream: bool, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    base = f"http://127.0.0.1:{free_port()}" + ("/v1" if provider == "openai-compatible" else "")
    client = client_for(provider, base, timeouts={"connect": 1, "read": 1})
    try:
        with pytest.raises(UpstreamConnectionError) as e:
            await call(client, stream)
        assert e.value.code == "upstream_unreachable"
        assert_clean(e.value, base)
    finally:
        await client.close()


# ---------------------------------------------------------------------------- credentials
async def test_key_sent_in_the_providers_header_only(rig: Rig):
    await call(rig.client, False)
    header, value = KEY_HEADER[rig.provider]
    headers = rig.headers()
    assert headers[header.lower()] == value
    others = [v for k, v in headers.items() if k != header.lower()]
    assert not any(KEY in v for v in others)
    assert KEY not in json.dumps(rig.fake.last["query"]) and KEY not in rig.fake.last["path"]


async def test_upstream_echoing_key_and_url_is_scrubbed(rig: Rig, caplog):
    rig.fake.set_fault(mode="401", message="Incorrect API key provided: {key} (called {url})")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(UpstreamError) as e:
        await call(rig.client, False)
    assert "Incorrect API key provided" in e.value.message
    assert_clean(e.value, rig.fake.base_url)
    assert KEY not in caplog.text


async def test_key_from_secret_file(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    secret = tmp_path / "anthropic.key"
    secret.write_text(KEY + "\n")
    async with running_fake("anthropic") as fake:
        t = ModelTarget(name="primary", provider="anthropic", base_url=fake.base_url,
                        model="m-1", api_key_file=str(secret))  # fmt: skip
        client = registry.get("anthropic").factory(t)
        try:
            await client.chat(req())
        finally:
            await client.close()
        assert fake.last is not None and fake.last["headers"]["x-api-key"] == KEY


# ---------------------------------------------------------------------------- passthrough
HOSTILE = {
    "base_url": "http://evil.example",
    "api_base": "http://evil.example",
    "api_key": "sk-caller-chosen-key-1234567",
    "extra_headers": {"X-Evil": "1"},
    "headers": {"X-Evil": "1"},
    "store": True,
    "service_tier": "priority",
    "totally_unknown": 1,
}


async def test_hostile_passthrough_fields_are_dropped(rig: Rig):
    await call(rig.client, False, req(extra=dict(HOSTILE)))
    sent = json.dumps(rig.body())
    for field in HOSTILE:
        assert f'"{field}"' not in sent
    assert "evil" not in sent and "x-evil" not in rig.headers()
    assert "sk-caller-chosen" not in json.dumps(rig.fake.last)


@pytest.mark.parametrize("target_kw", [{"allow_fields": ["store"]}])
async def test_store_passes_only_when_the_target_allows_it(rig: Rig):
    await call(rig.client, False, req(extra={"store": True, "service_tier": "flex"}))
    assert rig.body().get("store") is True
    assert "service_tier" not in rig.body()


@pytest.mark.parametrize(
    "provider, path, value",
    [
        ("openai-compatible", ("presence_penalty",), 0.5),
        ("openai-compatible", ("tool_choice",), "none"),
        ("azure-openai", ("presence_penalty",), 0.5),
        ("anthropic", ("top_k",), 7),
        ("gemini", ("generationConfig", "topK"), 7),
        ("gemini", ("generationConfig", "presencePenalty"), 0.5),
        ("cohere", ("k",), 7),
        ("cohere", ("presence_penalty",), 0.5),
    ],
)
async def test_allow_listed_fields_pass_in_the_providers_shape(provider, path, value, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    extra = {"top_k": 7, "presence_penalty": 0.5, "tool_choice": "none"}
    async with running_fake(FORMATS[provider][0]) as fake:
        client = client_for(provider, fake.base_url)
        try:
            await client.chat(req(extra=extra))
        finally:
            await client.close()
        assert fake.last is not None
        got: Any = fake.last["body"]
        for key in path:
            got = got[key]
        assert got == value
        if provider != "openai-compatible" and provider != "azure-openai":
            assert "tool_choice" not in fake.last["body"]  # not translated: not sent


# ---------------------------------------------------------------------------- config
@pytest.mark.parametrize(
    "provider, fields, message",
    [
        ("anthropic", {}, "base_url"),
        ("gemini", {"base_url": "ftp://x"}, "http"),
        ("cohere", {"base_url": "http://x", "allow_fields": ["base_url"]}, "allow_fields"),
        ("azure-openai", {"base_url": "http://x", "api_version": "1"}, "deployment"),
        ("azure-openai", {"base_url": "http://x", "deployment": "d"}, "api_version"),
        ("openai-compatible", {"base_url": "http://x", "allow_fields": ["extra_headers"]},
         "extra_headers"),
    ],
)  # fmt: skip
def test_config_errors_are_clear(provider, fields, message):
    with pytest.raises(ConfigError, match=message):
        parse_config({"models": [{"name": "x", "provider": provider, **fields}]})


def test_remote_providers_register_with_capabilities():
    assert set(PROVIDERS) <= registry.names()
    for name in ("anthropic", "gemini", "cohere"):
        assert registry.get(name).capabilities == {"chat"}
    assert registry.get("azure-openai").capabilities == {"chat", "completions", "embeddings"}


# ---------------------------------------------------------------------------- odd upstreams
async def _serve_json(payload: Any) -> tuple[web.AppRunner, int]:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response(payload)

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_json_in_the_wrong_schema_is_malformed(provider: str, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    runner, port = await _serve_json({"object": "something else", "data": 1})
    base = f"http://127.0.0.1:{port}"
    client = client_for(provider, base)
    try:
        with pytest.raises(UpstreamMalformedError) as e:
            await client.chat(req())
        assert_clean(e.value, base)
    finally:
        await client.close()
        await runner.cleanup()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unresolvable_host_is_unreachable(provider: str, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    base = "http://no-such-upstream.invalid"
    client = client_for(provider, base, timeouts={"connect": 2, "read": 2})
    try:
        with pytest.raises(UpstreamConnectionError, match="name not resolved") as e:
            await client.chat(req())
        assert "no-such-upstream" not in str(e.value)
    finally:
        await client.close()


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_stall_mid_stream_times_out(provider: str, monkeypatch):
    monkeypatch.setenv(KEY_ENV, KEY)
    async with running_fake(FORMATS[provider][0], chunk_delay_ms=1500) as fake:
        client = client_for(provider, fake.base_url, timeouts={"connect": 1, "read": 0.2})
        try:
            with pytest.raises(UpstreamTimeoutError, match="stalled mid-stream") as e:
                await call(client, True)
            assert_clean(e.value, fake.base_url)
        finally:
            await client.close()
