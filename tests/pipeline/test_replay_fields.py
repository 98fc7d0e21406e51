"""Schema v2's replay fields, written by the real pipeline (in-process): the request as the
client sent it, the raw upstream answers before output guardrails, and masking flags."""

from __future__ import annotations

import json
from typing import Any

from tests.pipeline.conftest import gateway_config, in_process
from tests.pipeline.test_routing_path import ROUTES, OnePolicy

CHAT = {"model": "echo", "messages": [{"role": "user", "content": "tell me a story"}]}


def _outputs(rec: dict[str, Any]) -> list[dict[str, Any]]:
    return json.loads(rec["upstream_outputs"])


async def test_plain_request_keeps_original_and_raw_answer(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url))
    body = {**CHAT, "temperature": 0.3, "seed": 7, "stop": ["zzz"]}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    rec = ip.only_record()
    # no input check rewrote it: request_body holds the client's body, not stored twice
    assert rec["request_original"] is None
    assert json.loads(rec["request_body"]) == body
    assert rec["request_masked"] is False
    [out] = _outputs(rec)
    assert out["target"] == "echo" and out["text"] == "tell me a story"
    assert out["finish_reason"] == "stop" and out["completion_tokens"] == 4
    assert rec["output_masked"] is False
    await ip.client.aclose()


async def test_denied_answer_keeps_the_raw_output(upstream) -> None:  # type: ignore[no-untyped-def]
    policy = {
        "output": [
            {
                "name": "no-story",
                "validator": "regex_deny",
                "params": {"patterns": ["story"]},
                "on_fail": "deny",
            }
        ]
    }
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(policy))
    r = await ip.client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 400
    rec = ip.only_record()
    assert [o["text"] for o in _outputs(rec)] == ["tell me a story"]  # what the check read
    assert rec["response_body"] is None or "tell me a story" not in rec["response_body"]
    await ip.client.aclose()


async def test_every_answer_of_a_failover_is_kept(upstream) -> None:  # type: ignore[no-untyped-def]
    policy = {
        **ROUTES,
        "output": [
            {
                "name": "no-filler",
                "validator": "regex_deny",
                "params": {"patterns": ["quick brown fox"]},
                "on_fail": "deny",
            }
        ],
    }
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(policy))
    body = {**CHAT, "model": "guarded", "max_tokens": 8}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    outs = _outputs(ip.only_record())
    assert [o["target"] for o in outs] == ["remote", "echo"]
    assert "quick brown fox" in outs[0]["text"]
    await ip.client.aclose()


async def test_stream_keeps_text_as_received(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url))
    words = " ".join(f"w{i}" for i in range(30))
    body = {"model": "echo", "stream": True, "messages": [{"role": "user", "content": words}]}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200 and "[DONE]" in r.text
    rec = ip.only_record()
    [out] = _outputs(rec)
    assert out["text"] == words and out["target"] == "echo"
    assert json.loads(rec["request_original"] or rec["request_body"])["stream"] is True
    await ip.client.aclose()


async def test_flagged_pii_is_masked_in_original_and_outputs(upstream) -> None:  # type: ignore[no-untyped-def]
    policy = {
        "input": [{"name": "pii-in", "validator": "pii", "on_fail": "flag"}],
        "output": [{"name": "pii-out", "validator": "pii", "on_fail": "flag"}],
    }
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(policy))
    email = "jane.roe@example.org"
    body = {"model": "echo", "messages": [{"role": "user", "content": f"mail {email} now"}]}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    rec = ip.only_record()
    assert email not in json.dumps(rec)
    assert rec["request_masked"] is True and rec["output_masked"] is True
    assert "<EMAIL_ADDRESS>" in (rec["request_original"] or rec["request_body"])
    assert "<EMAIL_ADDRESS>" in _outputs(rec)[0]["text"]
    await ip.client.aclose()


async def test_no_bodies_no_replay_fields(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url, store_bodies=False))
    r = await ip.client.post("/v1/chat/completions", json=CHAT)
    assert r.status_code == 200
    rec = ip.only_record()
    assert rec["request_original"] is None and rec["upstream_outputs"] is None
    assert rec["request_masked"] is None and rec["output_masked"] is None
    await ip.client.aclose()


async def test_a_replay_pipeline_stays_out_of_the_metrics(upstream) -> None:  # type: ignore[no-untyped-def]
    from workbench.gateway import metrics

    def requests_total() -> float:
        return sum(
            s.value
            for m in metrics.REQUESTS.collect()
            for s in m.samples
            if s.name.endswith("_total")
        )

    ip = await in_process(gateway_config(upstream.base_url), observe_metrics=False)
    before = requests_total()
    assert (await ip.client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert len(ip.records) == 1 and requests_total() == before
    await ip.client.aclose()
    counted = await in_process(gateway_config(upstream.base_url))
    assert (await counted.client.post("/v1/chat/completions", json=CHAT)).status_code == 200
    assert requests_total() == before + 1
    await counted.client.aclose()
