"""Routing through the real pipeline (in-process): fallback, failover before the first
byte of a stream, an SSE error after it, output-guardrail fallback, served-target facts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from tests.pipeline.conftest import gateway_config, in_process
from workbench.guardrails.engine import GuardrailEngine
from workbench.policy.model import Policy, policy_hash
from workbench.providers import Delta


class OnePolicy:
    """The PolicyRuntime surface the pipeline uses, with one fixed policy."""

    def __init__(self, data: dict[str, Any]) -> None:
        policy = Policy.model_validate({"id": "p", **data})
        self.engine = GuardrailEngine(policy, policy_hash=policy_hash(policy), version_id="p-v1")
        self.engines = {"p-v1": self.engine}

    def for_request(self, workspace: str | None, model: str) -> GuardrailEngine:
        return self.engine


ROUTES = {
    "routing": {
        "routes": {
            "smart": {"mode": "fallback", "targets": ["down", "echo"]},
            "remote-first": {"mode": "fallback", "targets": ["remote", "echo"]},
            "guarded": {
                "mode": "fallback",
                "on_guardrail_failure": True,
                "targets": ["remote", "echo"],
            },
        },
        "retry": {"attempts": 0},
    }
}
CHAT = {"messages": [{"role": "user", "content": "tell me a story"}]}


async def test_fallback_to_the_next_target(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(ROUTES))
    r = await ip.client.post("/v1/chat/completions", json={"model": "smart", **CHAT})
    assert r.status_code == 200, r.text
    assert r.headers["x-workbench-target"] == "echo"
    assert r.headers["x-workbench-attempts"] == "2"
    rec = ip.only_record()
    assert rec["target"] == "echo" and rec["model_requested"] == "smart"
    attempts = json.loads(rec["routing_attempts"])
    assert [a["target"] for a in attempts] == ["down", "echo"]
    assert attempts[0]["status"] == "upstream_unreachable" and attempts[1]["status"] == "ok"
    models = (await ip.client.get("/v1/models")).json()["data"]
    assert "smart" in {m["id"] for m in models}
    await ip.client.aclose()


async def test_stream_fails_over_before_first_byte(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(ROUTES))
    body = {"model": "smart", "stream": True, **CHAT}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    assert r.text.rstrip().endswith("data: [DONE]")
    rec = ip.only_record()
    assert rec["response_body"] == "tell me a story"
    assert rec["status"] == "ok" and rec["target"] == "echo"
    await ip.client.aclose()


async def test_stream_failure_after_first_byte_is_an_sse_error(upstream) -> None:  # type: ignore[no-untyped-def]
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(ROUTES))

    async def breaks(req: Any) -> AsyncIterator[Delta]:
        yield Delta(text="partial ")
        from workbench.errors import UpstreamError

        raise UpstreamError("upstream broke the stream", code="upstream_stream_broken")

    ip.pipeline.targets["remote"].backend.stream = breaks  # type: ignore[method-assign]
    body = {"model": "remote-first", "stream": True, **CHAT}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    events = [e[6:] for e in r.text.splitlines() if e.startswith("data: ")]
    assert "[DONE]" not in events
    last = json.loads(events[-1])
    assert last["error"]["code"] == "upstream_stream_broken"
    rec = ip.only_record()
    assert rec["status"] == "error" and rec["error_code"] == "upstream_stream_broken"
    attempts = json.loads(rec["routing_attempts"])
    assert attempts[-1]["after_first_byte"] is True and attempts[-1]["target"] == "remote"
    await ip.client.aclose()


async def test_output_guardrail_failure_falls_back(upstream) -> None:  # type: ignore[no-untyped-def]
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
    r = await ip.client.post(
        "/v1/chat/completions", json={"model": "guarded", "max_tokens": 8, **CHAT}
    )
    assert r.status_code == 200, r.text
    assert r.headers["x-workbench-target"] == "echo"
    rec = ip.only_record()
    attempts = json.loads(rec["routing_attempts"])
    assert attempts[0]["target"] == "remote" and attempts[0]["status"] != "ok"
    assert rec["target"] == "echo"
    await ip.client.aclose()


async def test_checked_stream_without_sentence_ends_still_streams(upstream) -> None:  # type: ignore[no-untyped-def]
    policy = {
        "output": [
            {
                "name": "no-zzz",
                "validator": "regex_deny",
                "params": {"patterns": ["zzz"]},
                "on_fail": "deny",
            }
        ],
        "streaming": {"window": "sentence", "max_window_chars": 40},
    }
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(policy))
    words = " ".join(f"word{i}" for i in range(60))  # no sentence end anywhere
    body = {"model": "echo", "stream": True, "messages": [{"role": "user", "content": words}]}
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 200
    events = [json.loads(e[6:]) for e in r.text.splitlines() if e.startswith("data: {")]
    texts = [e["choices"][0]["delta"].get("content") for e in events if e["choices"]]
    texts = [t for t in texts if t]
    assert len(texts) >= 8  # released window by window, not held to the end
    assert all(len(t) <= 48 for t in texts)
    assert "".join(texts) == words
    rec = ip.only_record()
    assert rec["status"] == "ok"
    assert len(json.loads(rec["guardrail_verdicts"])) >= 8
    await ip.client.aclose()


async def test_denied_secret_never_reaches_the_log(upstream) -> None:  # type: ignore[no-untyped-def]
    policy = {"input": [{"name": "block-secrets", "validator": "secrets", "on_fail": "deny"}]}
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(policy))
    secret = "AKIAIOSFODNN7EXAMPLE"
    body = {
        "model": "echo",
        "messages": [
            {"role": "system", "content": f"use key {secret} for s3"},
            {"role": "user", "content": "hi"},
        ],
    }
    r = await ip.client.post("/v1/chat/completions", json=body)
    assert r.status_code == 400 and r.json()["error"]["code"] == "guardrail_denied"
    assert secret not in r.text
    rec = ip.only_record()
    assert secret not in json.dumps(rec)
    await ip.client.aclose()


async def test_policy_retry_and_fallback_actions_are_attempts(upstream) -> None:  # type: ignore[no-untyped-def]
    def check(action: str) -> dict[str, Any]:
        return {
            "name": "no-story",
            "validator": "regex_deny",
            "params": {"patterns": ["story"]},
            "on_fail": action,
        }

    retry = {"output": [check("retry")], "retry": {"max_attempts": 3}}
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(retry))
    r = await ip.client.post("/v1/chat/completions", json={"model": "echo", **CHAT})
    assert r.status_code == 400 and r.json()["error"]["param"] == "output.no-story"
    attempts = json.loads(ip.only_record()["routing_attempts"])
    statuses = [a["status"] for a in attempts]
    assert statuses == ["retry:no-story", "retry:no-story", "guardrail_denied"]
    assert r.headers["x-workbench-attempts"] == "3"
    await ip.client.aclose()

    fallback = {"output": [check("fallback")], "fallback": {"model": "remote"}}
    ip = await in_process(gateway_config(upstream.base_url), policies=OnePolicy(fallback))
    r = await ip.client.post("/v1/chat/completions", json={"model": "echo", **CHAT})
    assert r.status_code == 200
    rec = ip.only_record()
    assert rec["target"] == "remote" and rec["model_served"] == "fake-model"
    assert r.headers["x-workbench-target"] == "remote"
    reasons = [a.get("reason") for a in json.loads(rec["routing_attempts"])]
    assert "policy_fallback" in reasons
    await ip.client.aclose()
