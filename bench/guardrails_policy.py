"""Latency and over-blocking of a whole policy's input stage (default: policies/default.yaml).

``python -m bench.guardrails_policy [--policy FILE] [--limit N] [--concurrency 8]``

Runs the production engine (:class:`workbench.guardrails.engine.GuardrailEngine`) with
the in-process ML scorer on XSTest's 250 safe prompts (eval-only: measured, never
tuned on) and prints the share the policy blocks, then per-request latency of the
input stage: one request at a time (p50/p99) and with ``--concurrency`` requests in
flight sharing one batched scorer (as the gateway's GuardrailScorer does).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path

import polars as pl

from workbench.guardrails._scoring import AsyncScorer
from workbench.guardrails.engine import GuardrailEngine
from workbench.policy import load_policy

ROOT = Path(__file__).resolve().parents[1]
XSTEST = ROOT.parent / "shared" / "datasets" / "xstest_prompts.csv"


class BatchingScorer:
    """Merges concurrent score() calls into one call per classifier (like @serve.batch)."""

    def __init__(self, inner: AsyncScorer, wait_s: float = 0.003) -> None:
        self.inner, self.wait_s = inner, wait_s
        self.queue: dict[str, list[tuple[list[str], asyncio.Future[list]]]] = {}

    async def _flush(self, cl: str) -> None:
        await asyncio.sleep(self.wait_s)
        items = self.queue.pop(cl, [])
        flat = [t for texts, _ in items for t in texts]
        res = await (self.inner.tag(flat) if cl == "pii_ner" else self.inner.score(cl, flat))
        pos = 0
        for texts, fut in items:
            fut.set_result(list(res[pos : pos + len(texts)]))
            pos += len(texts)

    async def _submit(self, cl: str, texts: list[str]) -> list:
        fut: asyncio.Future[list] = asyncio.get_running_loop().create_future()
        if cl not in self.queue:
            self.queue[cl] = []
            asyncio.get_running_loop().create_task(self._flush(cl))
        self.queue[cl].append((texts, fut))
        return await fut

    async def score(self, classifier: str, texts: list[str]) -> list[float]:
        return await self._submit(classifier, texts)

    async def tag(self, texts: list[str]) -> list[list[dict]]:
        return await self._submit("pii_ner", texts)


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


async def main_async(a: argparse.Namespace) -> None:
    from workbench.guardrails.ml import LocalScorer

    policy = load_policy(a.policy)
    df = pl.read_csv(XSTEST)
    safe = [r["prompt"] for r in df.to_dicts() if r["label"] == "safe"][: a.limit]
    inner = AsyncScorer(LocalScorer())
    eng = GuardrailEngine(policy, scorer=inner)
    for p in safe[:5]:  # warm up (model load, caches)
        await eng.run_stage("input", [p + " warm"], {})
    lat, blocked, by_check = [], 0, {}
    for i, p in enumerate(safe):
        t0 = time.perf_counter()
        out = await eng.run_stage("input", [p], {}, sample_key=str(i))
        lat.append((time.perf_counter() - t0) * 1000)
        if out.deny is not None:
            blocked += 1
            by_check[out.deny.check] = by_check.get(out.deny.check, 0) + 1
    print(f"policy {policy.id} ({a.policy}), {len(safe)} XSTest safe prompts")
    print(
        f"over-blocking: {blocked}/{len(safe)} = {100 * blocked / len(safe):.1f}% "
        f"denied by the input stage; by check: {by_check}"
    )
    print(
        f"sequential: input stage p50 {statistics.median(lat):.2f} ms, "
        f"p99 {_pct(lat, 0.99):.2f} ms per request"
    )
    beng = GuardrailEngine(policy, scorer=BatchingScorer(inner))
    sem = asyncio.Semaphore(a.concurrency)
    clat: list[float] = []

    async def one(i: int, p: str) -> None:
        async with sem:
            t0 = time.perf_counter()
            await beng.run_stage("input", [p + " "], {}, sample_key=str(i))
            clat.append((time.perf_counter() - t0) * 1000)

    t0 = time.perf_counter()
    await asyncio.gather(*(one(i, p) for i, p in enumerate(safe)))
    wall = time.perf_counter() - t0
    print(
        f"concurrency {a.concurrency} (batched scorer): p50 {statistics.median(clat):.2f} ms, "
        f"p99 {_pct(clat, 0.99):.2f} ms per request, {len(safe) / wall:.0f} req/s"
    )


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.guardrails_policy")
    p.add_argument("--policy", default=str(ROOT / "policies" / "default.yaml"))
    p.add_argument("--limit", type=int, default=250)
    p.add_argument("--concurrency", type=int, default=8)
    asyncio.run(main_async(p.parse_args()))


if __name__ == "__main__":
    main()
