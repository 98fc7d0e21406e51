"""Cost-suggestion bench: near-duplicate rule quality and suggestion runtime at scale.

1. Near-duplicate rule on the hand-written set in ``bench/cost_paraphrases.py``: the
   threshold is chosen on the tuning half (highest recall with no false hit; ties go to
   the higher threshold), then precision/recall on the evaluation half are printed side
   by side for cosine only vs cosine + second stage.
2. Blocked numpy neighbour search: time for m random unit vectors (384 dims).
3. ``suggest()`` on N synthetic logged requests (default 1,000,000) written straight as
   Parquet in the lake layout, with a per-kind timing.

Run: ``.venv/bin/python -m bench.cost_bench [--rows 1000000] [--distinct 5000]``
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np


def _pr(tp: int, fp: int, fn: int) -> tuple[float, float]:
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1)


def rule_quality(encode) -> None:  # type: ignore[no-untyped-def]
    from bench.cost_paraphrases import split
    from workbench.cache import second_stage

    halves = split()
    scored = {}
    for name, half in halves.items():
        pos, neg = half["positives"], half["negatives"]
        vecs = encode([t for p in pos + neg for t in p[:2]])
        cos = (vecs[0::2] * vecs[1::2]).sum(axis=1)
        ss = np.array([second_stage(a, b) for a, b, _ in pos + neg])
        labels = np.array([1] * len(pos) + [0] * len(neg))
        scored[name] = (cos, ss, labels, [k for *_, k in pos + neg])
    cos, ss, y, _ = scored["tune"]
    best = None
    for t in np.round(np.arange(0.70, 0.99, 0.01), 2):
        hit = (cos >= t) & ss
        rec, fp = (hit & (y == 1)).sum(), (hit & (y == 0)).sum()
        if fp == 0 and (best is None or rec >= best[1]):
            best = (float(t), rec)
    thr = best[0] if best else 0.9
    print(f"threshold chosen on the tuning half: {thr:.2f}")
    cos, ss, y, kinds = scored["eval"]
    print(f"eval half: {int(y.sum())} paraphrase pairs, {int((1 - y).sum())} near misses")
    print(f"{'rule':<24}{'precision':>10}{'recall':>8}{'false hits':>12}")
    for label, hit in (("cosine only", cos >= thr), ("cosine + second stage", (cos >= thr) & ss)):
        tp, fp = int((hit & (y == 1)).sum()), int((hit & (y == 0)).sum())
        p, r = _pr(tp, fp, int((~hit & (y == 1)).sum()))
        print(f"{label:<24}{p:>10.3f}{r:>8.3f}{fp:>7}/{int((1 - y).sum())}")
    missed = [k for h, lab, k in zip((cos >= thr) & ss, y, kinds, strict=True) if h and not lab]
    print(f"near misses still hit with the second stage, by kind: {missed}")


def search_speed(m: int) -> None:
    from workbench.analytics.cost._neighbours import earlier_neighbours

    rng = np.random.default_rng(0)
    v = rng.standard_normal((m, 384)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    t0 = time.perf_counter()
    n = sum(1 for _ in earlier_neighbours(v, 0.82))
    print(
        f"blocked numpy search: {m:,} vectors in one scope: {time.perf_counter() - t0:.2f} s "
        f"({n} with a neighbour)"
    )


def _write_lake(root: Path, rows: int, distinct: int) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from workbench.logstore import schema

    rnd = random.Random(7)
    topics = ["order", "refund", "password", "invoice", "delivery", "account", "plan"]
    texts = [
        f"Question {i}: how do I handle my {rnd.choice(topics)} number {i % 997}?"
        for i in range(distinct)
    ]
    base = datetime(2026, 5, 1, tzinfo=UTC)
    per_file = 100_000
    for f in range(0, rows, per_file):
        n = min(per_file, rows - f)
        at = [base + timedelta(seconds=(f + i) * 2) for i in range(n)]
        ws = [f"ws-{rnd.randrange(5)}" for _ in range(n)]
        temp = [0.0 if rnd.random() < 0.6 else 1.0 for _ in range(n)]
        prompt = [texts[int(rnd.paretovariate(1.2)) % distinct] for _ in range(n)]
        bodies = [
            json.dumps(
                {
                    "model": "gpt-4o",
                    "temperature": t,
                    "max_tokens": 2048,
                    "messages": [{"role": "user", "content": p}],
                }
            )
            for t, p in zip(temp, prompt, strict=True)
        ]
        cols = {
            "request_id": [f"r{f + i}" for i in range(n)],
            "received_at": at,
            "endpoint": ["/v1/chat/completions"] * n,
            "status": ["ok"] * n,
            "workspace": ws,
            "key_id": [f"k-{w}" for w in ws],
            "model_served": ["gpt-4o"] * n,
            "provider": ["openai-compatible"] * n,
            "prompt_tokens": [40] * n,
            "completion_tokens": [rnd.randrange(20, 120) for _ in range(n)],
            "cost_usd": [0.0011] * n,
            "policy_hash": ["p1"] * n,
            "cache_status": ["miss"] * n,
            "temperature": temp,
            "max_tokens": [2048] * n,
            "request_body": bodies,
        }
        sch = schema()
        table = pa.table({f.name: pa.array(cols.get(f.name, [None] * n), f.type) for f in sch})
        part = root / "requests" / "date=2026-05-01" / f"hour={f // per_file:02d}"
        part.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, part / f"part-{f // per_file}.parquet")


def scale(rows: int, distinct: int, encode) -> None:  # type: ignore[no-untyped-def]
    from workbench.analytics.cost import suggest
    from workbench.config.gateway import parse_config

    cfg = parse_config(
        {
            "models": [
                {
                    "name": m,
                    "model": m,
                    "provider": "openai-compatible",
                    "base_url": "http://127.0.0.1:9/v1",
                }
                for m in ("gpt-4o", "gpt-4o-mini")
            ]
        }
    )
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        t0 = time.perf_counter()
        _write_lake(root, rows, distinct)
        print(
            f"generated {rows:,} requests ({distinct:,} distinct prompts) in "
            f"{time.perf_counter() - t0:.1f} s"
        )
        now = datetime(2026, 5, 31, tzinfo=UTC)
        for kinds in (["exact_cache"], ["semantic_cache"], ["max_tokens"], ["cheaper_model"]):
            t0 = time.perf_counter()
            out = suggest("60d", root=root, now=now, kinds=kinds, encode=encode, config=cfg)
            took = time.perf_counter() - t0
            s = out.items[0] if out.items else None
            what = f"{s.requests:,} requests, ${s.usd_window:,.2f}" if s else "none"
            print(f"{kinds[0]:<16}{took:>8.1f} s   {what}   {' '.join(out.notes)}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--distinct", type=int, default=5000)
    ap.add_argument("--search", type=int, default=50_000)
    args = ap.parse_args()
    from workbench.providers.embeddings import Embedder

    encode = Embedder.load().encode
    rule_quality(encode)
    search_speed(args.search)
    scale(args.rows, args.distinct, encode)


if __name__ == "__main__":
    main()
