"""``azure-openai``: deployment URLs, api-version, api-key header, OpenAI bodies."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from bench.fake_providers import FakeProvider, running_fake
from workbench.config.gateway import ModelTarget
from workbench.providers import ChatRequest, GenerationParams
from workbench.providers.azure import AzureOpenAIClient

KEY = "3f9c2a7e1b4d8f6a0c5e9b2d7a1f4c8e"  # Azure keys are 32 hex chars


@pytest.fixture
async def fake(monkeypatch) -> AsyncIterator[FakeProvider]:
    monkeypatch.setenv("TEST_AZURE_KEY", KEY)
    async with running_fake("azure") as f:
        yield f


@pytest.fixture
async def client(fake: FakeProvider) -> AsyncIterator[AzureOpenAIClient]:
    c = AzureOpenAIClient(
        ModelTarget(name="az", provider="azure-openai", base_url=fake.base_url + "/",
                    deployment="gpt4o prod", api_version="2024-10-21",
                    api_key_env="TEST_AZURE_KEY")
    )  # fmt: skip
    yield c
    await c.close()


def _chat(**kw: Any) -> ChatRequest:
    msgs = [{"role": "developer", "content": "be kind"}, {"role": "user", "content": "a b c d"}]
    return ChatRequest(model="x", messages=msgs, **kw)


async def test_deployment_url_version_and_key_header(client, fake: FakeProvider):
    done = await client.chat(_chat(params=GenerationParams(max_tokens=2, seed=3, stop=["z"])))
    assert (done.text, done.finish_reason, done.completion_tokens) == ("a b", "length", 2)
    last = fake.last
    assert last is not None
    assert last["path"] == "/openai/deployments/gpt4o prod/chat/completions"
    assert last["raw_path"] == (
        "/openai/deployments/gpt4o%20prod/chat/completions?api-version=2024-10-21"
    )
    assert last["query"] == {"api-version": "2024-10-21"}
    assert last["headers"]["api-key"] == KEY and "Authorization" not in last["headers"]
    body = last["body"]
    assert "model" not in body  # the deployment names the model
    assert body["messages"][0] == {"role": "developer", "content": "be kind"}
    assert (body["max_tokens"], body["seed"], body["stop"]) == (2, 3, ["z"])


async def test_stream_with_usage(client, fake: FakeProvider):
    got = [d async for d in client.stream(_chat())]
    assert [d.text for d in got[:-1]] == ["a", " b", " c", " d"]
    assert (got[-1].finish_reason, got[-1].prompt_tokens, got[-1].completion_tokens) == (
        "stop", 6, 4,
    )  # fmt: skip
    assert fake.last is not None
    assert fake.last["body"]["stream_options"] == {"include_usage": True}


async def test_completions_and_embeddings(client, fake: FakeProvider):
    done = await client.chat(ChatRequest(model="x", prompt="once upon a time"))
    assert done.text == "once upon a time"
    assert fake.last is not None and fake.last["path"].endswith("/completions")
    res = await client.embed(["first text", "second"])
    assert fake.last["path"] == "/openai/deployments/gpt4o prod/embeddings"
    assert fake.last["body"] == {"input": ["first text", "second"]}
    assert len(res.vectors) == 2 and res.vectors[0] != res.vectors[1]
    # the fake answers rows in reverse order: the client puts them back by index
    again = await client.embed(["first text"])
    assert again.vectors[0] == res.vectors[0]
    assert res.prompt_tokens == 3
