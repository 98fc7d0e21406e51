"""The rig of the fault tests: two fake OpenAI upstreams (``bench.fake_providers``, real
aiohttp servers on 127.0.0.1 with a fault switch), a closed port, and the in-process
pipeline routing over them with a fixed policy (``ROUTING``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bench.fake_providers import FakeProvider, start_fake_provider
from tests.pipeline.conftest import InProcess, closed_port, in_process
from tests.pipeline.test_routing_path import OnePolicy
from workbench.config.gateway import parse_config

KEY = "sk-fault-test-secret-0123456789abcdef"
CHAT = {"messages": [{"role": "user", "content": "tell me a story about rivers"}]}
BREAKER = {"failure_threshold": 2, "cooldown_s": 1.0, "window_s": 30, "half_open_probes": 1}
ROUTING: dict[str, Any] = {
    "routes": {
        "solo": {"mode": "single", "targets": ["primary"]},
        "safe": {"mode": "fallback", "targets": ["primary", "backup"]},
        "retrying": {
            "mode": "single",
            "targets": ["primary"],
            "retry": {"attempts": 2, "backoff_base_ms": 1, "max_retry_after_s": 5},
        },
        "retry-then-fallback": {
            "mode": "fallback",
            "retry": {"attempts": 1, "backoff_base_ms": 1, "jitter": "none"},
            "targets": ["primary", "backup"],
        },
        "impatient": {
            "mode": "fallback",
            "targets": [{"target": "primary", "timeouts": {"total": 0.3}}, "backup"],
        },
        "impatient-stream": {
            "mode": "fallback",
            "targets": [{"target": "primary", "timeouts": {"first_byte": 0.3}}, "backup"],
        },
        "impatient-solo": {
            "mode": "single",
            "targets": [{"target": "primary", "timeouts": {"total": 0.3}}],
        },
        "down-first": {"mode": "fallback", "targets": ["down", "backup"]},
        "down-only": {"mode": "single", "targets": ["down"]},
    },
    "retry": {"attempts": 0},
    "circuit_breaker": BREAKER,
}


@dataclass
class Rig:
    """Two fake OpenAI upstreams (``primary``, ``backup``), a closed port (``down``) and
    the in-process gateway routing over them."""

    primary: FakeProvider
    backup: FakeProvider
    ip: InProcess

    async def post(self, model: str, **body: Any) -> tuple[httpx.Response, dict[str, Any]]:
        """One request; its response and its (only) new log record."""
        before = len(self.ip.records)
        r = await self.ip.client.post("/v1/chat/completions", json={"model": model, **CHAT, **body})
        await r.aread()
        assert len(self.ip.records) == before + 1, "exactly one record per request"
        return r, self.ip.records[-1]

    def breaker(self, target: str) -> dict[str, Any]:
        snap: dict[str, Any] = self.ip.pipeline.routers.state.snapshot()
        return dict(snap[target])


@pytest.fixture
async def rig(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    monkeypatch.setenv("FAULT_TEST_KEY", KEY)
    primary = await start_fake_provider("openai")
    backup = await start_fake_provider("openai")
    remote = {"provider": "openai-compatible", "model": "fake-model"}
    cfg = parse_config(
        {
            "gateway": {"require_auth": False},
            "models": [
                {
                    "name": "primary",
                    **remote,
                    "base_url": primary.base_url,
                    "api_key_env": "FAULT_TEST_KEY",
                    "timeouts": {"connect": 1, "read": 5},
                },
                {"name": "backup", **remote, "base_url": backup.base_url},
                {
                    "name": "down",
                    **remote,
                    "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                    "timeouts": {"connect": 1, "read": 2},
                },
            ],
        }
    )
    ip = await in_process(cfg, policies=OnePolicy({"routing": ROUTING}))
    try:
        yield Rig(primary, backup, ip)
    finally:
        await ip.client.aclose()
        for t in ip.pipeline.targets.values():
            close = getattr(t.backend, "close", None)
            if close is not None:
                await close()
        await primary.stop()
        await backup.stop()


def attempts_of(rec: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = json.loads(rec["routing_attempts"])
    assert rec["attempt_count"] == len(out)
    return out


def sse_events(r: httpx.Response) -> list[str]:
    return [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]


def assert_error_shape(body: dict[str, Any], code: str) -> None:
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "code", "param"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]


def assert_no_secrets(rig: Rig, *texts: str) -> None:
    for text in texts:
        assert KEY not in text
        assert f"127.0.0.1:{rig.primary.port}" not in text
