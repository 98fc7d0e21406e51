"""Speed rows of the guardrail-quality bench: in-process, batched, cached, and the hop.

* :func:`policy_p50` -- the default input policy on one request at a time, in-process
  (:class:`~workbench.guardrails.engine.GuardrailEngine` over the LocalScorer, cache
  cleared before each request, so every request pays its encoder pass);
* :func:`batch_rate` -- every ML check (one encoder pass) on batches of 32 texts, cache
  cleared before each batch: texts per second from the median batch;
* :func:`cache_hit_us` -- the same checks on texts already analysed (the LRU hit path:
  hashing, lookup, memoised scores);
* :func:`hop_entries` -- the serve ``GuardrailScorer`` deployment called through a Ray
  Serve handle (the gateway's :class:`serve.gateway.HandleScorer`): the policy per
  request (each text new to the replica) and the hop alone (a text it has cached).
  Ray runs under an exclusive ``flock`` on ``/tmp/ray.lock`` and is shut down after.

Configurations are timed round-robin, text by text, so a change of machine load hits
them alike.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench import _guardrails_rows as rows
from workbench.guardrails.ml.scorer import PII_NER, LocalScorer
from workbench.providers._onnx import exclusive_lock

BATCH = 32
RAY_LOCK = Path("/tmp/ray.lock")


def _checks(scorer: LocalScorer) -> list[str]:
    return [c for c in scorer.classifiers if c != "embedding"] + [PII_NER]


def _engine(policy: Path, scorer: Any) -> Any:
    from workbench.guardrails.engine import GuardrailEngine
    from workbench.policy import load_policy

    return GuardrailEngine(load_policy(policy), scorer=scorer)


async def _request(engine: Any, text: str, key: str) -> float:
    t0 = time.perf_counter()
    await engine.run_stage("input", [text], {"metadata": {}}, sample_key=key, roles=["user"])
    return (time.perf_counter() - t0) * 1000.0


async def policy_p50(scorers: dict[str, LocalScorer], policy: Path, texts: list[str]) -> dict:
    """Per configuration: the input stage's ms per request (median), one at a time."""
    from workbench.guardrails._scoring import AsyncScorer

    engines = {c: _engine(policy, AsyncScorer(s)) for c, s in scorers.items()}
    for e in engines.values():  # warm-up: model, heads, engine
        await _request(e, "warm-up " + texts[0], "w")
    ms: dict[str, list[float]] = {c: [] for c in scorers}
    for i, t in enumerate(texts):
        for c, e in engines.items():
            scorers[c].clear_cache()
            ms[c].append(await _request(e, t, str(i)))
    return {c: float(np.median(v)) for c, v in ms.items()}


def batch_rate(scorers: dict[str, LocalScorer], texts: list[str]) -> dict[str, float]:
    """Per configuration: texts/s of every ML check on batches of :data:`BATCH`."""
    per: dict[str, list[float]] = {c: [] for c in scorers}
    for s in scorers.values():
        s.scores(_checks(s), texts[:BATCH])  # warm-up
    for lo in range(0, len(texts) - BATCH + 1, BATCH):
        chunk = texts[lo : lo + BATCH]
        for c, s in scorers.items():
            s.clear_cache()
            t0 = time.perf_counter()
            s.scores(_checks(s), chunk)
            per[c].append(time.perf_counter() - t0)
    return {c: BATCH / float(np.median(v)) for c, v in per.items()}


def cache_hit_us(scorer: LocalScorer, texts: list[str], reps: int = 5) -> float:
    """Microseconds per text for every ML check of texts already in the cache."""
    names = _checks(scorer)
    scorer.scores(names, texts)
    best = []
    for _ in range(reps):
        t0 = time.perf_counter()
        scorer.scores(names, texts)
        best.append(time.perf_counter() - t0)
    return float(np.median(best)) * 1e6 / max(len(texts), 1)


def local_entries(
    scorers: dict[str, LocalScorer], policy: Path, texts: list[str]
) -> list[dict[str, Any]]:
    """The in-process speed rows of every configuration."""
    p50 = asyncio.run(policy_p50(scorers, policy, texts))
    rate = batch_rate(scorers, (texts * 4)[: 4 * BATCH])
    out = []
    for c, s in scorers.items():
        out.append(rows.entry(c, "policy_p50_ms", p50[c], len(texts)))
        out.append(rows.entry(c, "batch32_texts_per_s", rate[c], 4 * BATCH))
        out.append(rows.entry(c, "cache_hit_us", cache_hit_us(s, texts[:BATCH]), BATCH))
    return out


async def _hop(handle: Any, policy: Path, texts: list[str]) -> tuple[float, float]:
    from serve.gateway import HandleScorer

    engine = _engine(policy, HandleScorer(handle))
    await _request(engine, "warm-up " + texts[0], "w")
    per = [await _request(engine, t, f"hop{i}") for i, t in enumerate(texts)]
    cached = [("prompt_injection", [texts[0]]), ("jailbreak", [texts[0]])]
    alone = []
    for _ in range(50):
        t0 = time.perf_counter()
        await handle.score_many.remote(cached)
        alone.append((time.perf_counter() - t0) * 1000.0)
    return float(np.median(per)), float(np.median(alone))


def _start_serve() -> None:
    """Ray and Serve as ``workbench up`` starts them (loopback, the throughput-optimised
    Serve settings the gateway runs with), no HTTP proxy: the bench calls handles."""
    from ray import serve

    from workbench.cli._embedded import prepare_env, start_ray

    prepare_env(fast_proxy=False)
    os.environ["RAY_SERVE_THROUGHPUT_OPTIMIZED"] = "1"
    start_ray()
    serve.start(proxy_location="Disabled")


def hop_entries(
    deployments: dict[str, dict[str, Any]], policy: Path, texts: list[str]
) -> list[dict[str, Any]]:
    """Per configuration (``{config: GuardrailScorer kwargs}``): policy p50 through the
    hop and the hop alone. Starts Ray (under the lock), deploys, measures, shuts down."""
    import ray
    from ray import serve

    from serve.scorer import GuardrailScorer

    out: list[dict[str, Any]] = []
    home = os.environ.get("WORKBENCH_HOME") or tempfile.mkdtemp(prefix="wb-bench-home-")
    os.environ["WORKBENCH_HOME"] = home
    with exclusive_lock(RAY_LOCK):
        try:
            _start_serve()
            for i, (c, kw) in enumerate(deployments.items()):
                h = serve.run(
                    GuardrailScorer.options(name=f"scorer{i}").bind(home, **kw),  # type: ignore[attr-defined]
                    name=f"bench-guardrails-{i}",
                    route_prefix=None,
                )
                p50, alone = asyncio.run(_hop(h, policy, texts))
                out.append(rows.entry(c, "hop_policy_p50_ms", p50, len(texts)))
                out.append(rows.entry(c, "hop_only_p50_ms", alone, 50))
                serve.delete(f"bench-guardrails-{i}")
        finally:
            with contextlib.suppress(Exception):
                serve.shutdown()
            ray.shutdown()
    return out


__all__ = ["BATCH", "batch_rate", "cache_hit_us", "hop_entries", "local_entries", "policy_p50"]
