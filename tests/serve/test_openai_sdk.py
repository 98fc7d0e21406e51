"""The official ``openai`` SDK, unchanged but for base_url and api_key, against the gateway."""

from __future__ import annotations

import asyncio
import base64

import numpy as np
import openai
import pytest

pytestmark = pytest.mark.slow


def _rid(response_id: str) -> str:
    return response_id.split("-", 1)[1]


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=gateway.key, max_retries=0)


def test_chat_sync_echo_and_remote(client, gateway):
    r = client.chat.completions.create(
        model="echo",
        messages=[{"role": "user", "content": "hello gateway"}],
        metadata={"team": "search"},
        user="u-1",
    )
    assert r.choices[0].message.content == "hello gateway"
    assert r.choices[0].finish_reason == "stop"
    assert r.usage.total_tokens == r.usage.prompt_tokens + r.usage.completion_tokens
    r2 = client.chat.completions.create(
        model="upstream",
        messages=[{"role": "user", "content": "hi"}],
        max_tokens=5,
        temperature=0.2,
        top_p=0.9,
        seed=7,
        stop=["zzz"],
    )
    assert r2.model == "upstream"
    assert r2.choices[0].message.content
    assert r2.usage.completion_tokens == 5
    rows = gateway.wait_logged({_rid(r.id), _rid(r2.id)})
    echo_row, up_row = rows[_rid(r.id)], rows[_rid(r2.id)]
    assert echo_row["user"] == "u-1" and '"team": "search"' in echo_row["metadata"]
    assert echo_row["workspace"] == "tests" and echo_row["key_id"] == gateway.key_id
    assert up_row["provider"] == "openai-compatible" and up_row["model_served"] == "fake-model"
    assert up_row["temperature"] == 0.2 and up_row["seed"] == 7 and up_row["max_tokens"] == 5
    assert up_row["upstream_ms"] > 0 and up_row["latency_ms"] >= up_row["upstream_ms"]
    assert up_row["http_status"] == 200 and up_row["status"] == "ok"
    assert gateway.key not in str(echo_row)  # the key itself is never logged


def test_chat_async(gateway):
    async def run():
        c = openai.AsyncOpenAI(
            base_url=gateway.base_url + "/v1", api_key=gateway.key, max_retries=0
        )
        rs = await asyncio.gather(
            *[
                c.chat.completions.create(
                    model="echo", messages=[{"role": "user", "content": f"n {i}"}]
                )
                for i in range(10)
            ]
        )
        await c.close()
        return rs

    rs = asyncio.run(run())
    assert sorted(r.choices[0].message.content for r in rs) == sorted(f"n {i}" for i in range(10))


@pytest.mark.parametrize("model", ["echo", "upstream", "tiny"])
def test_chat_streaming_with_usage(client, gateway, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
        max_completion_tokens=8,
    )
    text, finish, usage = "", None, None
    for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for ch in chunk.choices:
            text += ch.delta.content or ""
            finish = ch.finish_reason or finish
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0
    if model == "echo":
        assert text == "one two three four"
    rows = gateway.wait_logged({stream.response.headers["x-workbench-request-id"]})
    row = next(iter(rows.values()))
    assert row["stream"] is True and row["ttft_ms"] is not None
    assert row["completion_tokens"] == usage.completion_tokens


def test_completions_endpoint(client):
    r = client.completions.create(model="echo", prompt="alpha beta gamma", max_tokens=2)
    assert r.choices[0].text == "alpha beta"
    assert r.choices[0].finish_reason == "length"
    r2 = client.completions.create(model="upstream", prompt="x", max_tokens=3)
    assert r2.usage.completion_tokens == 3


def test_local_model_chat(client, gateway):
    r = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0
    )
    assert r.usage.completion_tokens <= 6
    again = client.chat.completions.create(
        model="tiny", messages=[{"role": "user", "content": "hi"}], max_tokens=6, temperature=0
    )
    assert again.choices[0].message.content == r.choices[0].message.content  # greedy
    row = gateway.wait_logged({_rid(r.id)})[_rid(r.id)]
    assert row["provider"] == "local" and row["replica"] and row["batch_size"] >= 1
    assert row["queue_wait_ms"] is not None


def test_local_model_batches_concurrent_requests(gateway):
    async def run():
        c = openai.AsyncOpenAI(
            base_url=gateway.base_url + "/v1", api_key=gateway.key, max_retries=0
        )
        rs = await asyncio.gather(
            *[
                c.chat.completions.create(
                    model="tiny", max_tokens=8, messages=[{"role": "user", "content": f"q{i}"}]
                )
                for i in range(8)
            ]
        )
        await c.close()
        return rs

    rs = asyncio.run(run())
    rows = gateway.wait_logged({_rid(r.id) for r in rs})
    assert max(r["batch_size"] for r in rows.values()) > 1


def test_embeddings_float_and_base64(client, gateway):
    r = client.embeddings.create(model="minilm", input=["a cat sat", "a kitten sat", "stocks"])
    vecs = np.array([d.embedding for d in r.data])  # the SDK asked for base64 and decoded
    assert vecs.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-3)
    assert vecs[0] @ vecs[1] > vecs[0] @ vecs[2]
    assert r.usage.prompt_tokens > 0
    f = client.embeddings.create(model="minilm", input="a cat sat", encoding_format="float")
    assert np.allclose(f.data[0].embedding, vecs[0], atol=1e-5)
    raw = client.embeddings.with_raw_response.create(
        model="minilm", input="x", encoding_format="base64"
    )
    b64 = raw.http_response.json()["data"][0]["embedding"]
    assert len(base64.b64decode(b64)) == 384 * 4


def test_models_list(client):
    ids = {m.id for m in client.models.list()}
    assert {"echo", "upstream", "tiny", "minilm"} <= ids
    assert client.models.retrieve("tiny").owned_by == "local"


def test_sdk_errors(client, gateway):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="nope", messages=[{"role": "user", "content": "x"}])
    assert e.value.body["code"] == "model_not_found"
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(
            base_url=gateway.base_url + "/v1", api_key="wb-bogus-key", max_retries=0
        ).models.list()
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model="echo", n=2, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.UnprocessableEntityError):
        client.chat.completions.create(
            model="echo", temperature=5, messages=[{"role": "user", "content": "x"}]
        )
    with pytest.raises(openai.InternalServerError) as e5:
        client.chat.completions.create(
            model="upstream-down", messages=[{"role": "user", "content": "x"}]
        )
    assert e5.value.status_code == 502
    with pytest.raises(openai.InternalServerError) as e6:
        client.chat.completions.create(
            model="upstream-slow", messages=[{"role": "user", "content": "x"}]
        )
    assert e6.value.status_code == 504
    with pytest.raises(openai.BadRequestError):
        client.embeddings.create(model="echo", input="x")  # echo cannot embed


def test_cost_is_priced_from_the_price_table(client, gateway):
    from workbench.pricing import load_prices

    r = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "price me"}], max_tokens=10)
    row = gateway.wait_logged({_rid(r.id)})[_rid(r.id)]
    prices = load_prices()
    expected = prices.cost("gpt-4o-mini", "openai-compatible", r.usage.prompt_tokens,
                           r.usage.completion_tokens)
    assert expected and row["cost_usd"] == pytest.approx(expected)
    assert row["price_table_version"] == prices.version


def test_local_prompt_over_context_is_400(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(
            model="tiny", messages=[{"role": "user", "content": "hello " * 2100}], max_tokens=4)
    assert e.value.body["code"] == "context_length_exceeded"


def test_upstream_key_comes_from_config_never_from_the_client(client, gateway):
    import httpx

    client.chat.completions.create(model="upstream", messages=[{"role": "user", "content": "k"}])
    stats = httpx.get(gateway.upstream.base_url.removesuffix("/v1") + "/_stats").json()
    assert stats["last_authorization"] == "Bearer sk-upstream-test"
