"""The exact cache through the real gateway (Ray Serve): a published policy turns it on;
the openai client sees the cache headers, the log shows the hit and what it saved, a
stream is replayed from cache as SSE. Run under ``flock /tmp/ray.lock``."""

from __future__ import annotations

import json
import uuid

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

POLICY = """
id: cache-test
applies_to: {workspaces: ["tests"], models: ["cache-route"]}
routing:
  routes:
    cache-route: {mode: fallback, targets: [gpt-4o-mini]}
cache: {enabled: true, ttl_s: 600}
"""


def _publish(gateway, tmp_path_factory, policy_id: str, text: str) -> dict:
    """Publish ``text`` as ``policy_id``, wait until it is live; its ``policy show``."""
    path = tmp_path_factory.mktemp("pol") / f"{policy_id}.yaml"
    path.write_text(text)
    out = gateway.cli("policy", "publish", str(path), "-m", f"{policy_id} policy")
    assert out.returncode == 0, out.stderr
    gateway.wait_policy_live(policy_id, timeout=20.0)
    return json.loads(gateway.cli("policy", "show", policy_id, "--json").stdout)


@pytest.fixture(scope="module")
def published(gateway, tmp_path_factory):
    return _publish(gateway, tmp_path_factory, "cache-test", POLICY)


@pytest.fixture(scope="module")
def client(gateway):
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=gateway.key, max_retries=0)


def _upstream_chats(gateway) -> int:
    return httpx.get(gateway.upstream.base_url.removesuffix("/v1") + "/_stats").json()["chat"]


def _ask(client, text: str, **kw):
    return client.chat.completions.with_raw_response.create(
        model="cache-route", messages=[{"role": "user", "content": text}], **kw
    )


def test_second_request_is_a_hit_and_the_log_shows_the_saving(client, gateway, published):
    text = f"cache me {uuid.uuid4().hex}"
    before = _upstream_chats(gateway)
    raw1 = _ask(client, text, temperature=0)
    first = raw1.parse()
    assert raw1.headers["x-workbench-cache"] == "miss"
    rid1 = raw1.headers["x-workbench-request-id"]
    row1 = gateway.wait_logged({rid1})[rid1]  # logged only once its entry is stored
    assert row1["cache_status"] == "miss" and row1["cache_key"] and row1["cost_usd"] > 0
    assert row1["policy_hash"] == published["hash"]

    raw2 = _ask(client, text, temperature=0)
    second = raw2.parse()
    assert raw2.headers["x-workbench-cache"] == "hit"
    assert second.choices[0].message.content == first.choices[0].message.content
    assert second.usage == first.usage and second.id != first.id
    assert _upstream_chats(gateway) == before + 1
    rid2 = raw2.headers["x-workbench-request-id"]
    row2 = gateway.wait_logged({rid2})[rid2]
    assert row2["cache_status"] == "hit" and row2["cache_key"] == row1["cache_key"]
    assert row2["cost_usd"] == 0.0 and row2["cost_saved_usd"] == pytest.approx(row1["cost_usd"])
    assert row2["cache_similarity"] is None and row2["status"] == "ok"

    other = _ask(client, text, temperature=0.5)  # another parameter: another entry
    assert other.headers["x-workbench-cache"] == "miss"
    opted = _ask(client, text, temperature=0, extra_headers={"Cache-Control": "no-store"})
    assert opted.headers["x-workbench-cache"] == "bypass"


def _stream(client, text: str):
    raw = client.chat.completions.with_raw_response.create(
        model="cache-route",
        messages=[{"role": "user", "content": text}],
        temperature=0,
        stream=True,
        stream_options={"include_usage": True},
    )
    parts, usage = [], None
    for chunk in raw.parse():
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            parts.append(choice.delta.content or "")
    return raw.headers, "".join(parts), usage


def test_a_stream_is_served_from_cache(client, gateway, published):
    text = f"stream me {uuid.uuid4().hex}"
    before = _upstream_chats(gateway)
    h1, text1, usage1 = _stream(client, text)
    assert h1["x-workbench-cache"] == "miss" and text1 and usage1 is not None
    rid1 = h1["x-workbench-request-id"]
    row1 = gateway.wait_logged({rid1})[rid1]
    assert row1["cache_key"]
    h2, text2, usage2 = _stream(client, text)
    assert h2["x-workbench-cache"] == "hit"
    assert h2["content-type"].startswith("text/event-stream")
    assert text2 == text1 and usage2 == usage1
    assert _upstream_chats(gateway) == before + 1
    rid2 = h2["x-workbench-request-id"]
    row2 = gateway.wait_logged({rid2})[rid2]
    assert row2["cache_status"] == "hit" and row2["stream"] is True
    assert row2["cost_saved_usd"] == pytest.approx(row1["cost_usd"])


SEMANTIC_POLICY = """
id: cache-semantic-test
applies_to: {workspaces: ["tests"], models: ["cache-sem-route"]}
routing:
  routes:
    cache-sem-route: {mode: fallback, targets: [gpt-4o-mini]}
cache: {enabled: true, ttl_s: 600, semantic: {enabled: true}}
"""


@pytest.fixture(scope="module")
def semantic_published(gateway, tmp_path_factory):
    return _publish(gateway, tmp_path_factory, "cache-semantic-test", SEMANTIC_POLICY)


def _ask_sem(client, text: str):
    return client.chat.completions.with_raw_response.create(
        model="cache-sem-route", messages=[{"role": "user", "content": text}], temperature=0
    )


def test_a_paraphrase_is_a_semantic_hit_through_the_cache_index(
    client, gateway, semantic_published
):
    """The CacheIndex deployment (MiniLM in its replica, reached from the ingress over its
    loopback lane on this one node) serves a reworded question, and refuses the same
    wording with another order number (the second stage)."""
    before = _upstream_chats(gateway)
    raw1 = _ask_sem(client, "What is the refund status of my order 48213?")
    assert raw1.headers["x-workbench-cache"] == "miss"
    rid1 = raw1.headers["x-workbench-request-id"]
    row1 = gateway.wait_logged({rid1})[rid1]  # logged once stored and indexed
    raw2 = _ask_sem(client, "What's the refund status for my order 48213?")
    assert raw2.headers["x-workbench-cache"] == "semantic_hit"
    assert 0.65 <= float(raw2.headers["x-workbench-cache-similarity"]) < 1.0
    assert raw2.parse().choices[0].message.content == raw1.parse().choices[0].message.content
    rid2 = raw2.headers["x-workbench-request-id"]
    row2 = gateway.wait_logged({rid2})[rid2]
    assert row2["cache_status"] == "semantic_hit" and row2["cache_key"] == row1["cache_key"]
    assert row2["cache_similarity"] == pytest.approx(
        float(raw2.headers["x-workbench-cache-similarity"]), abs=1e-3
    )
    raw3 = _ask_sem(client, "What is the refund status of my order 48214?")
    assert raw3.headers["x-workbench-cache"] == "miss"  # another number: never served
    assert _upstream_chats(gateway) == before + 2
