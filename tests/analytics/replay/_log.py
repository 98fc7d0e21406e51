"""A hand-made log with known answers: ~20 requests through the in-process production
pipeline under policy A, written with the real LogWriter; policy B changes known things.

Known flips under B (request label -> cell, drivers):

- ``pineapple``: allow -> deny (new input check ``no-pineapple``)
- ``forbidden``: deny -> allow (removed input check ``no-forbidden``)
- ``email``: redact -> deny (``redact-pii`` turned from redact into deny)
- ``zebra-out``: allow -> deny (new output check ``no-zebra`` on the logged raw output,
  which was edited in the log so that only the *output* says zebra)
- ``zebra-stream``: allow -> deny (the same output check on a streamed answer)
- ``kiwi``: allow -> fallback (new output check ``no-kiwi`` with the fallback action)
- ``smart``: fallback -> allow (the route no longer has the failing first target)
- ``hello``: allow -> flag (new flag check ``flag-hello``)
- ``secret``: deny, unchanged (``block-secrets`` is the same in both)
- ``plain-*``: allow, unchanged
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

from workbench.config.gateway import GatewayConfig, parse_config
from workbench.guardrails.engine import GuardrailEngine
from workbench.logstore import LogWriter
from workbench.pipeline import Incoming, build_pipeline
from workbench.policy import Policy, policy_hash


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(extra_models: list[dict[str, Any]] | None = None) -> GatewayConfig:
    return parse_config(
        {
            "gateway": {"require_auth": False},
            "models": [
                {"name": "echo", "provider": "echo"},
                {
                    "name": "down",
                    "provider": "openai-compatible",
                    "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                    "model": "x",
                    "timeouts": {"connect": 1, "read": 1},
                },
                *(extra_models or []),
            ],
        }
    )


def _deny(name: str, pattern: str, action: str = "deny") -> dict[str, Any]:
    return {
        "name": name,
        "validator": "regex_deny",
        "params": {"patterns": [pattern]},
        "on_fail": action,
    }


SECRETS = {"name": "block-secrets", "validator": "secrets", "on_fail": "deny"}
ROUTING_A = {
    "routes": {"smart": {"mode": "fallback", "targets": ["down", "echo"]}},
    "retry": {"attempts": 0},
}
POLICY_A: dict[str, Any] = {
    "id": "policy-a",
    "input": [
        SECRETS,
        {"name": "redact-pii", "validator": "pii", "on_fail": "redact"},
        _deny("no-forbidden", "forbidden-topic"),
    ],
    "output": [{"name": "no-secrets-out", "validator": "secrets", "on_fail": "deny"}],
    "routing": ROUTING_A,
}
POLICY_B: dict[str, Any] = {
    "id": "policy-b",
    "input": [
        SECRETS,
        {"name": "redact-pii", "validator": "pii", "on_fail": "deny"},
        _deny("no-pineapple", "pineapple"),
        _deny("flag-hello", "hello", "flag"),
    ],
    "output": [
        {"name": "no-secrets-out", "validator": "secrets", "on_fail": "deny"},
        _deny("no-zebra", "zebra"),
        _deny("no-kiwi", "kiwi", "fallback"),
    ],
    "fallback": {"message": "Sorry, I cannot talk about that."},
    "routing": {"routes": {"smart": {"mode": "fallback", "targets": ["echo"]}}},
}

POLICY_B_YAML = """\
id: policy-b
input:
  - {name: block-secrets, validator: secrets, on_fail: deny}
  - {name: redact-pii, validator: pii, on_fail: deny}
  - {name: no-pineapple, validator: regex_deny, params: {patterns: [pineapple]}, on_fail: deny}
  - {name: flag-hello, validator: regex_deny, params: {patterns: [hello]}, on_fail: flag}
output:
  - {name: no-secrets-out, validator: secrets, on_fail: deny}
  - {name: no-zebra, validator: regex_deny, params: {patterns: [zebra]}, on_fail: deny}
  - {name: no-kiwi, validator: regex_deny, params: {patterns: [kiwi]}, on_fail: fallback}
fallback: {message: "Sorry, I cannot talk about that."}
routing:
  routes:
    smart: {mode: fallback, targets: [echo]}
"""

# label -> (model, user text, stream)
REQUESTS: dict[str, tuple[str, str, bool]] = {
    "pineapple": ("echo", "I like pineapple on pizza", False),
    "forbidden": ("echo", "tell me about the forbidden-topic please", False),
    "email": ("echo", "write to me at jane.doe@example.com today", False),
    "zebra-out": ("echo", "describe a striped horse", False),
    "zebra-stream": ("echo", "a zebra runs. It is fast.", True),
    "kiwi": ("echo", "is kiwi a fruit or a bird", False),
    "smart": ("smart", "route me somewhere nice", False),
    "hello": ("echo", "hello there, friend", False),
    "secret": ("echo", "my key is AKIAIOSFODNN7EXAMPLE ok", False),
    **{f"plain-{i}": ("echo", f"what is {i} plus {i}?", i % 3 == 0) for i in range(11)},
}

EXPECTED: dict[str, tuple[str, str, list[str]]] = {
    "pineapple": ("allow", "deny", ["no-pineapple"]),
    "forbidden": ("deny", "allow", ["no-forbidden"]),
    "email": ("redact", "deny", ["redact-pii"]),
    "zebra-out": ("allow", "deny", ["no-zebra"]),
    "zebra-stream": ("allow", "deny", ["no-zebra"]),
    "kiwi": ("allow", "fallback", ["no-kiwi"]),
    "smart": ("fallback", "allow", ["routing"]),
    "hello": ("allow", "flag", ["flag-hello"]),
    "secret": ("deny", "deny", []),
}


class OnePolicy:
    """The PolicyRuntime surface, one fixed policy."""

    def __init__(self, data: dict[str, Any]) -> None:
        policy = Policy.model_validate(data)
        self.engine = GuardrailEngine(policy, policy_hash=policy_hash(policy), version_id="a-v1")
        self.engines = {"a-v1": self.engine}

    def for_request(self, workspace: str | None, model: str) -> GuardrailEngine:
        return self.engine


async def record_log(cfg: GatewayConfig) -> dict[str, dict[str, Any]]:
    """Run REQUESTS through the pipeline under policy A; records by label."""
    records: list[dict[str, Any]] = []
    gp = build_pipeline(cfg, submit_record=records.append, policies=OnePolicy(POLICY_A))
    ids: dict[str, str] = {}
    for label, (model, text, stream) in REQUESTS.items():
        body: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
        if stream:
            body["stream"] = True
        raw = json.dumps(body).encode()

        async def read(limit: int, raw: bytes = raw) -> bytes:
            return raw

        rid = f"req-{label}"
        ids[label] = rid
        reply = await gp.handle(
            Incoming(kind="chat", endpoint="/v1/chat/completions", read_body=read, request_id=rid)
        )
        if reply.stream is not None:
            async for _ in reply.stream:
                pass
    for t in gp.targets.values():
        close = getattr(t.backend, "close", None)
        if close is not None:
            await close()
    by_id = {r["request_id"]: r for r in records}
    out = {label: by_id[rid] for label, rid in ids.items()}
    for i, rec in enumerate(out.values()):
        rec["workspace"] = "ws-b" if i % 2 else "ws-a"
        rec["key_id"] = f"key-{i % 2}"
    # only the logged raw *output* says zebra (the request does not)
    outputs = json.loads(out["zebra-out"]["upstream_outputs"])
    outputs[0]["text"] = "A zebra is a striped horse."
    out["zebra-out"]["upstream_outputs"] = json.dumps(outputs)
    return out


def write_log(root: Path, records: list[dict[str, Any]]) -> None:
    with LogWriter(root) as w:
        w.append(records)
        w.flush()
