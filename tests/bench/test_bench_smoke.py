"""Smoke test of the benchmark tools: the fake upstream speaks OpenAI's wire format
(checked with the official ``openai`` SDK) and the load generator runs against it.

Quick (a few seconds), loopback only, no timing assertions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import openai
import pytest

from bench.fake_upstream import FakeUpstreamThread
from bench.loadgen import run_load


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstreamThread]:
    with FakeUpstreamThread(delay_ms=2) as up:
        yield up


@pytest.fixture
def client(upstream: FakeUpstreamThread) -> Iterator[openai.OpenAI]:
    # loopback: never through a proxy from the environment
    http = openai.DefaultHttpxClient(trust_env=False, timeout=10)
    c = openai.OpenAI(
        base_url=upstream.base_url, api_key="sk-fake", http_client=http, max_retries=0
    )
    try:
        yield c
    finally:
        c.close()


def test_chat_non_streaming(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "hello there"}],
        max_tokens=5,
    )
    assert r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-")
    assert r.model == "fake-model"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content is not None
    assert len(r.choices[0].message.content.split()) == 5
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5


def test_chat_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "stream please"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 4
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length" and not any(finishes[:-1])
    # the last chunk carries the usage and no choices; the others have usage None
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_streaming_without_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=2,
            stream=True,
        )
    )
    assert all(c.choices for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"


def test_legacy_completions_and_models(client: openai.OpenAI) -> None:
    r = client.completions.create(model="fake-model", prompt="say something", max_tokens=3)
    assert r.object == "text_completion"
    assert len(r.choices[0].text.split()) == 3
    assert r.usage is not None and r.usage.completion_tokens == 3
    streamed = list(
        client.completions.create(model="fake-model", prompt="x", max_tokens=3, stream=True)
    )
    assert "".join(c.choices[0].text for c in streamed).split() == r.choices[0].text.split()
    assert "fake-model" in {m.id for m in client.models.list()}


def test_bad_request_is_an_openai_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake-model", messages=[])


def test_loadgen_runs_against_fake(upstream: FakeUpstreamThread) -> None:
    res = asyncio.run(run_load(upstream.base_url, concurrency=4, requests=20, warmup=4))
    assert res.errors == 0, res.error_samples
    assert res.ok == 20 and res.requests == 20 and res.sent_total == 24
    assert res.completion_tokens == 20 * 16
    assert res.p50_ms > 0 and res.p99_ms >= res.p50_ms and res.rps > 0
