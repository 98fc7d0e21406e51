"""Dynamic batching: tokens/s of the local replica with batching vs batch size 1.

``python -m bench.batching [--concurrency 16] [--tokens 32] [--requests 64]``

Starts our gateway (``workbench up``) with two local models on the same tiny
random-weight LM: ``tiny-batched`` (``max_batch_size`` 16, ``batch_wait_timeout_s``
0.02) and ``tiny-b1`` (``max_batch_size`` 1). In the same run, for each model it
sends warm-up requests (not counted) and then ``--requests`` non-streaming chat
completions at ``--concurrency`` with ``temperature`` 0 and ``max_tokens`` =
``--tokens`` (the random-weight model rarely emits EOS, so replies run to the
limit), and computes completion tokens/s from the ``usage`` fields over the wall
time of the counted phase. Prints both and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench import _gateway
from bench._proc import BenchError, install_uvloop, interrupts_raise, load_average
from bench.loadgen import LoadResult, run_load

MODELS: list[dict[str, Any]] = [
    {
        "name": "tiny-batched",
        "provider": "local",
        "model": "tiny",
        "max_batch_size": 16,
        "batch_wait_timeout_s": 0.02,
    },
    {"name": "tiny-b1", "provider": "local", "model": "tiny", "max_batch_size": 1},
]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.batching", description=__doc__)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--tokens", type=int, default=32, help="max_tokens per request")
    p.add_argument("--requests", type=int, default=64, help="counted requests per model")
    p.add_argument("--warmup", type=int, default=None, help="default: = concurrency")
    p.add_argument("--repeat", type=int, default=1, help="alternate runs; medians reported")
    p.add_argument("--workbench-bin", default=None)
    p.add_argument("--start-timeout", type=float, default=600.0)
    p.add_argument("--request-timeout", type=float, default=300.0)
    p.add_argument("--keep-tmp", action="store_true")
    a = p.parse_args(argv)
    if min(a.concurrency, a.tokens, a.requests, a.repeat) < 1:
        p.error("--concurrency, --tokens, --requests and --repeat must be positive")
    warmup = a.concurrency if a.warmup is None else a.warmup

    uv = install_uvloop()
    workdir = Path(tempfile.mkdtemp(prefix="bench-batching-"))
    print(
        f"batching: local tiny LM through our gateway, concurrency {a.concurrency}, "
        f"max_tokens {a.tokens}, temperature 0, {a.requests} requests per model "
        f"(+ {warmup} warm-up), repeat {a.repeat}\n"
        f"machine: {os.cpu_count()} CPUs shared by the load generator (uvloop "
        f"{'on' if uv else 'off'}) and the whole gateway (Ray, replicas); "
        f"load average before: {load_average()}",
        flush=True,
    )
    results: dict[str, list[LoadResult]] = {m["name"]: [] for m in MODELS}
    failed = False
    try:
        with interrupts_raise():
            gw = _gateway.start_gateway(
                MODELS, workdir, wb=a.workbench_bin, ready_timeout_s=a.start_timeout
            )
            try:
                print(f"gateway ready in {gw.startup_s:.1f} s", flush=True)
                for _ in range(a.repeat):
                    for m in MODELS:
                        res = asyncio.run(
                            run_load(
                                gw.base_url,
                                concurrency=a.concurrency,
                                requests=a.requests,
                                warmup=warmup,
                                model=m["name"],
                                api_key=gw.api_key,
                                max_tokens=a.tokens,
                                temperature=0.0,
                                timeout_s=a.request_timeout,
                            )
                        )
                        results[m["name"]].append(res)
                        print(
                            f"  {m['name']}: {res.completion_tokens_per_s:.1f} tokens/s, "
                            f"{res.rps:.2f} req/s, p50 {res.p50_ms:.0f} ms, errors {res.errors}",
                            flush=True,
                        )
                        for s in res.error_samples:
                            print(f"    error: {s}")
            finally:
                gw.stop()
    except BenchError as exc:
        failed = True
        print(f"\nour gateway could not be benchmarked (is `workbench up` working yet?): {exc}")
    except KeyboardInterrupt:
        print("\ninterrupted: stopped the gateway", file=sys.stderr)
        return 130
    finally:
        if a.keep_tmp or failed:
            print(f"(configs and logs kept in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if failed:
        return 2

    print("\n=== results (medians) ===")
    print(
        f"{'model':<14}{'max_batch':>10}{'tokens/s':>10}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}"
        f"{'tokens/req':>12}{'errors':>8}"
    )
    tps: dict[str, float] = {}
    for m in MODELS:
        rs = results[m["name"]]
        tps[m["name"]] = statistics.median(r.completion_tokens_per_s for r in rs)
        per_req = statistics.median(r.completion_tokens / max(1, r.ok) for r in rs)
        print(
            f"{m['name']:<14}{m['max_batch_size']:>10}{tps[m['name']]:>10.1f}"
            f"{statistics.median(r.rps for r in rs):>8.2f}"
            f"{statistics.median(r.p50_ms for r in rs):>9.0f}"
            f"{statistics.median(r.p99_ms for r in rs):>9.0f}"
            f"{per_req:>12.1f}{sum(r.errors for r in rs):>8}"
        )
    b1 = tps["tiny-b1"]
    ratio = f"{tps['tiny-batched'] / b1:.2f}x" if b1 > 0 else "n/a"
    print(f"\ndynamic batching speed-up (tokens/s, batched / batch size 1): {ratio}")
    print(f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
