"""Who sends the synthetic traffic and to which models: workspaces, keys, models, policy.

Models carry their real gateway names, providers and upstream models, and their prices
come from the packaged price table (:mod:`workbench.pricing`), so ``cost_usd`` is what
the gateway would have logged. The policy is the packaged ``policies/default.yaml``
(its check names, validators, actions and content hash).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from workbench.pricing import load_prices

__all__ = [
    "Check",
    "ModelSpec",
    "PolicyInfo",
    "Workspace",
    "default_models",
    "default_policy",
    "default_workspaces",
]


@dataclass(frozen=True)
class ModelSpec:
    """A gateway target the synthetic traffic asks for.

    ``ttft_ms``: median time to first token; ``tokens_per_s``: decode speed;
    ``fail_rate``: share of upstream attempts that fail (timeouts, 5xx, 429);
    ``fallback``: the target the router falls back to (``None``: none).
    """

    name: str
    provider: str
    upstream_model: str
    input_per_m: float
    output_per_m: float
    ttft_ms: float = 350.0
    tokens_per_s: float = 80.0
    fail_rate: float = 0.01
    fallback: str | None = None


@dataclass(frozen=True)
class Workspace:
    """A tenant: its share of traffic, keys, users, the models its apps use.

    ``shape``: ``"business"`` (diurnal + weekly office-hours load) or ``"batch"`` (flatter,
    jobs at night and on weekends too). ``models`` maps model name to weight.
    ``attack_rate`` / ``pii_rate``: share of requests that carry an attack / PII.
    ``cache``: whether the exact cache is on for the workspace (else ``bypass``).
    ``store_bodies``: whether its policy keeps bodies in the log.
    ``topics``: which prompt domain its apps draw questions from.
    """

    name: str
    share: float
    keys: int
    users: int
    models: dict[str, float]
    shape: str = "business"
    attack_rate: float = 0.01
    pii_rate: float = 0.03
    cache: bool = True
    store_bodies: bool = True
    topics: str = "support"
    completion_tokens: float = 180.0  # median completion length
    stream_share: float = 0.5
    system_prompt: str = "You are a helpful assistant."


def default_workspaces() -> tuple[Workspace, ...]:
    """Five workspaces with different sizes, shapes, model mixes and risk profiles."""
    return (
        Workspace(
            "acme-support", 0.38, 8, 900, {"gpt-4o-mini": 0.7, "gpt-4o": 0.3},
            attack_rate=0.02, pii_rate=0.06, topics="support", completion_tokens=160,
            stream_share=0.8,
            system_prompt="You are the Acme support assistant. Answer briefly and politely.",
        ),
        Workspace(
            "acme-search", 0.24, 4, 1500, {"gpt-4o-mini": 0.85, "local": 0.15},
            attack_rate=0.01, pii_rate=0.02, topics="search", completion_tokens=90,
            stream_share=0.3, system_prompt="Answer the question using the search results.",
        ),
        Workspace(
            "data-science", 0.18, 5, 40, {"gpt-4o": 0.6, "gpt-4o-mini": 0.2, "local": 0.2},
            shape="batch", attack_rate=0.002, pii_rate=0.04, cache=False, topics="analysis",
            completion_tokens=420, stream_share=0.1,
            system_prompt="You are a data analysis assistant. Be precise.",
        ),
        Workspace(
            "marketing", 0.12, 3, 60, {"gpt-4o": 0.5, "gpt-4o-mini": 0.5},
            attack_rate=0.005, pii_rate=0.01, topics="writing", completion_tokens=300,
            stream_share=0.6, system_prompt="You write clear, upbeat marketing copy.",
        ),
        Workspace(
            "legal", 0.08, 2, 25, {"gpt-4o": 0.9, "local": 0.1},
            attack_rate=0.003, pii_rate=0.15, cache=False, store_bodies=False,
            topics="analysis", completion_tokens=380, stream_share=0.2,
            system_prompt="You are a careful legal research assistant.",
        ),
    )  # fmt: skip


def default_models() -> tuple[ModelSpec, ...]:
    """The configured chat targets of ``workbench/config/default.yaml`` (``gpt-4o-mini``,
    ``local``) plus ``gpt-4o`` from the price table (an expensive remote model, as a
    second configured OpenAI-compatible target), priced by the packaged price table."""
    prices = load_prices()
    raw = (
        ("gpt-4o", "openai-compatible", "gpt-4o", 420.0, 70.0, 0.012, "gpt-4o-mini"),
        ("gpt-4o-mini", "openai-compatible", "gpt-4o-mini", 300.0, 110.0, 0.01, "local"),
        ("local", "local", "Qwen/Qwen2.5-0.5B-Instruct", 120.0, 45.0, 0.004, None),
    )
    out = []
    for name, provider, upstream, ttft, tps, fail, fallback in raw:
        rate = prices.rate(upstream, provider)
        if rate is None:
            raise RuntimeError(f"the price table has no price for {upstream}")
        out.append(
            ModelSpec(name, provider, upstream, rate.input, rate.output, ttft, tps, fail, fallback)
        )
    return tuple(out)


@dataclass(frozen=True)
class Check:
    """One check of the policy (``stage`` is ``input`` or ``output``)."""

    name: str
    validator: str
    stage: str
    on_fail: str
    message: str | None = None


@dataclass(frozen=True)
class PolicyInfo:
    """The policy the synthetic requests ran under."""

    id: str
    hash: str | None
    checks: tuple[Check, ...] = field(default=())

    def check(self, validator: str, stage: str = "input") -> Check:
        """The first check of ``stage`` with this validator."""
        for c in self.checks:
            if c.validator == validator and c.stage == stage:
                return c
        raise KeyError(f"{stage} check with validator {validator!r}")


def _policy_file() -> Path:
    return Path(__file__).resolve().parents[2] / "policies" / "default.yaml"


@lru_cache(maxsize=1)
def default_policy() -> PolicyInfo:
    """The packaged default policy's checks and hash (read from ``policies/default.yaml``)."""
    import yaml

    from workbench.policy.model import Policy, policy_hash

    policy = Policy.model_validate(yaml.safe_load(_policy_file().read_text()))
    checks = [
        Check(c.name, c.validator, stage, str(c.on_fail), getattr(c, "message", None))
        for stage, items in (("input", policy.input), ("output", policy.output))
        for c in items
    ]
    return PolicyInfo(policy.id, policy_hash(policy), tuple(checks))


_ALNUM = np.frombuffer(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8
)


def key_ids(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` key ids in the gateway's format (12 letters and digits)."""
    codes = _ALNUM[rng.integers(0, len(_ALNUM), size=(n, 12))]
    return [bytes(row).decode() for row in codes]
