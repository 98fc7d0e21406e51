"""Cache latency legs: index lookups at 100k entries, and miss vs exact hit vs semantic hit
through the in-process pipeline (the production ``build_pipeline`` + FastAPI app over
httpx's ASGI transport) in front of the 200 ms fake upstream (``bench/fake_upstream.py``).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from bench._cache_backends import vectors as clustered
from workbench.cache.semantic import LocalSemanticIndex


def _pct(xs: list[float]) -> tuple[float, float]:
    return float(np.percentile(xs, 50)), float(np.percentile(xs, 95))


def index_latency(real: np.ndarray, queries: np.ndarray, n: int, scopes: int = 1) -> dict[str, Any]:
    """``n`` entries (``real`` vectors + clustered filler) over ``scopes`` scopes; search
    p50/p95 in ms for ``queries`` (near ``real``) and how long the graphs took."""
    filler, _ = clustered(max(n - len(real), 0), 1, seed=1)
    vecs = np.concatenate([real, filler])[:n]
    index = LocalSemanticIndex(lambda t: np.zeros((len(t), 384)), persist=False)
    per = n // scopes
    t0 = time.perf_counter()
    for s in range(scopes):
        part = vecs[s * per : (s + 1) * per]
        keys = [f"{s}-{i}" for i in range(len(part))]
        index.add_vectors(f"scope:{s}", keys, keys, np.full(len(part), 4e9), part)
    index.wait_for_graphs()
    build = time.perf_counter() - t0
    times = []
    for i, q in enumerate(queries):
        t1 = time.perf_counter()
        index.lookup_vector(f"scope:{i % scopes}" if scopes > 1 else "scope:0", q, 4)
        times.append((time.perf_counter() - t1) * 1000)
    p50, p95 = _pct(times)
    return {"entries": len(index), "scopes": scopes, "graphs": index.stats()["graphs"],
            "build_s": build, "p50_ms": p50, "p95_ms": p95, "index": index}  # fmt: skip


async def embed_lookup_latency(
    index: LocalSemanticIndex, encode: Callable[[list[str]], np.ndarray], texts: list[str]
) -> tuple[float, float]:
    """p50/p95 ms of a full lookup (MiniLM embedding of a new text + search)."""
    index._embed = encode  # the index was filled with precomputed vectors
    times = []
    for text in texts:
        t0 = time.perf_counter()
        await index.lookup("scope:0", text)
        times.append((time.perf_counter() - t0) * 1000)
    return _pct(times)


def _policy() -> Any:
    from workbench.guardrails.engine import GuardrailEngine
    from workbench.policy.model import Policy, policy_hash

    policy = Policy.model_validate(
        {"id": "bench", "cache": {"enabled": True, "semantic": {"enabled": True}}}
    )
    engine = GuardrailEngine(policy, policy_hash=policy_hash(policy), version_id="bench-v1")
    return SimpleNamespace(for_request=lambda ws, model: engine, engines={"bench-v1": engine})


class _Auth:
    async def averify(self, token: str) -> Any:
        return SimpleNamespace(key_id=token, workspace="bench")

    def verify(self, token: str) -> Any:
        return SimpleNamespace(key_id=token, workspace="bench")


async def pipeline_latency(
    encode: Callable[[list[str]], np.ndarray], pairs: list[tuple[str, str]], delay_ms: int = 200
) -> dict[str, tuple[float, float, float]]:
    """Per request kind (miss, exact hit, semantic hit): p50/p95 ms of the requests the
    cache answered with that status (``x-workbench-cache``), and their share."""
    import httpx

    from bench.fake_upstream import FakeUpstreamThread
    from workbench.cache.store import SqliteEntryStore
    from workbench.config.gateway import parse_config
    from workbench.gateway.app import create_app
    from workbench.pipeline import build_pipeline

    with FakeUpstreamThread(delay_ms=delay_ms) as up, tempfile.TemporaryDirectory() as tmp:
        cfg = parse_config({"gateway": {"require_auth": True}, "models": [
            {"name": "main", "provider": "openai-compatible", "base_url": up.base_url,
             "model": "fake-model"}]})  # fmt: skip
        store = SqliteEntryStore(Path(tmp) / "entries.db")
        index = LocalSemanticIndex(encode, persist=False)
        records: list[dict[str, Any]] = []
        gp = build_pipeline(
            cfg,
            submit_record=records.append,
            auth=_Auth(),
            policies=_policy(),
            cache_store=store,
            semantic_index=index,
        )
        app = create_app(gp)
        out: dict[str, list[float]] = {"miss": [], "exact hit": [], "semantic hit": []}
        statuses: dict[str, list[str]] = {k: [] for k in out}
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://gw", timeout=60
        ) as client:
            for a, b in pairs:
                for kind, text in (("miss", a), ("exact hit", a), ("semantic hit", b)):
                    body = {"model": "main", "temperature": 0, "max_tokens": 16,
                            "messages": [{"role": "user", "content": text}]}  # fmt: skip
                    t0 = time.perf_counter()
                    r = await client.post("/v1/chat/completions", json=body,
                                          headers={"authorization": "Bearer k"})  # fmt: skip
                    out[kind].append((time.perf_counter() - t0) * 1000)
                    statuses[kind].append(r.headers.get("x-workbench-cache", "?"))
                    for _ in range(500):  # the store stage runs after the answer
                        await gp.cache.flush()
                        if len(records) >= sum(len(v) for v in out.values()):
                            break
                        await asyncio.sleep(0.01)
        store.close()
    result = {}
    for kind, times in out.items():
        want = _WANT[kind]
        served = [t for t, s in zip(times, statuses[kind], strict=True) if s == want]
        result[kind] = (*_pct(served or [float("nan")]), len(served) / max(len(times), 1))
    return result


_WANT = {"miss": "miss", "exact hit": "hit", "semantic hit": "semantic_hit"}


__all__ = ["embed_lookup_latency", "index_latency", "pipeline_latency"]
