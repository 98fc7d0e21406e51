"""Gateway overhead: direct vs floor pass-through vs LiteLLM's proxy vs our gateway.

``python -m bench.gateway_overhead [--levels 1,8,32] [--requests 300] [--delay-ms 20]
[--repeat 1] [--skip-floor] [--skip-litellm] [--skip-gateway] [--policy none|default|both]
[--before REV] [--ttft-streams N]``

Starts the fake upstream (a subprocess), then for each target in turn (only one
proxy runs at a time) and each concurrency level sends warm-up requests (not
counted) and ``--requests`` non-streaming chat completions with the load generator
in this process, and prints per level: p50, p99, added p50/p99 over direct, req/s,
errors, and the CPU milliseconds per request of the proxy's process tree, the
upstream and the load generator; then the ratios of our gateway against LiteLLM
and the floor. With ``--repeat K`` every figure is the median of K runs.

Our gateway runs once per *variant* (see :mod:`bench._overhead_gateway`):
``--policy none`` (nothing published), ``default`` (``policies/default.yaml`` live, ML
checks through the real scorer hop) or ``both``; ``--before REV`` adds the same legs
for commit REV's gateway (:mod:`bench._before`) and prints before vs after side by
side with ratios and a >10% regression verdict. ``--ttft-streams N`` also measures
time to first token on every gateway leg (and direct): N streams, one at a time, of
text with no sentence end from a fake upstream that sends a word every
``--ttft-chunk-ms``.

After each gateway leg it checks that every request sent to the gateway (warm-up
included) is in the request log (``workbench logs query``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench._before import Tree, before_tree, check_tree
from bench._overhead_gateway import gateway_leg, variants
from bench._overhead_legs import Target, floor_leg, litellm_leg, upstream_proc
from bench._overhead_report import report
from bench._proc import (
    LOOPBACK,
    BenchError,
    Proc,
    descendant_pids,
    install_uvloop,
    interrupts_raise,
    load_average,
)
from bench.loadgen import LoadResult, run_load
from bench.reliability import fake_upstream
from bench.ttft import measure_ttft


@dataclass
class Cell:
    """Median figures of one target at one level over the repeats."""

    target: str
    level: int
    p50: float
    p99: float
    rps: float
    errors: int
    proxy_cpu_ms: float
    proxy_net_cpu_ms: float
    upstream_cpu_ms: float
    loadgen_cpu_ms: float
    runs: list[dict[str, Any]] = field(default_factory=list)
    error_samples: list[str] = field(default_factory=list)


def _median(xs: list[float]) -> float:
    xs = [x for x in xs if not math.isnan(x)]
    return statistics.median(xs) if xs else math.nan


def measure(
    target: Target,
    level: int,
    *,
    requests: int,
    warmup: int | None,
    repeat: int,
    upstream: Proc,
    timeout_s: float,
) -> tuple[Cell, int]:
    """Run ``repeat`` load runs; (median cell, requests sent incl. warm-up)."""
    runs: list[LoadResult] = []
    cpu: list[tuple[float, float, float, float]] = []
    sent = 0
    for _ in range(repeat):
        marks: dict[str, float] = {}

        def mark(marks: dict[str, float] = marks) -> None:
            marks["proxy"] = target.proc.cpu_seconds() if target.proc else math.nan
            marks["up"] = upstream.cpu_seconds()
            marks["lg"] = time.process_time()

        res = asyncio.run(
            run_load(
                target.base_url,
                concurrency=level,
                requests=requests,
                warmup=warmup,
                model=target.model,
                api_key=target.api_key,
                timeout_s=timeout_s,
                before_measure=mark,
            )
        )
        proxy = (target.proc.cpu_seconds() if target.proc else math.nan) - marks["proxy"]
        up = upstream.cpu_seconds() - marks["up"]
        lg = time.process_time() - marks["lg"]
        n = max(1, res.requests)
        net = proxy - target.idle_cpu_rate * res.wall_s
        cpu.append((proxy * 1000 / n, net * 1000 / n, up * 1000 / n, lg * 1000 / n))
        runs.append(res)
        sent += res.sent_total
    samples: list[str] = []
    for r in runs:
        samples += [s for s in r.error_samples if s not in samples]
    cell = Cell(
        target=target.name,
        level=level,
        p50=_median([r.p50_ms for r in runs]),
        p99=_median([r.p99_ms for r in runs]),
        rps=_median([r.rps for r in runs]),
        errors=sum(r.errors for r in runs),
        proxy_cpu_ms=_median([c[0] for c in cpu]),
        proxy_net_cpu_ms=_median([c[1] for c in cpu]),
        upstream_cpu_ms=_median([c[2] for c in cpu]),
        loadgen_cpu_ms=_median([c[3] for c in cpu]),
        runs=[{**r.as_dict(), "cpu_ms_per_req": c} for r, c in zip(runs, cpu, strict=True)],
        error_samples=samples[:5],
    )
    return cell, sent


# ------------------------------------------------------------------ main
def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.gateway_overhead", description=__doc__)
    p.add_argument("--levels", default="1,8,32", help="concurrency levels (default 1,8,32)")
    p.add_argument("--requests", type=int, default=300, help="counted requests per run")
    p.add_argument("--warmup", type=int, default=None, help="default max(10, 2 x concurrency)")
    p.add_argument("--delay-ms", type=float, default=20.0, help="fake upstream delay")
    p.add_argument("--repeat", type=int, default=1, help="runs per level; medians reported")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--skip-gateway", action="store_true")
    p.add_argument(
        "--policy",
        choices=("none", "default", "both"),
        default="none",
        help="our gateway with no policy, with policies/default.yaml live, or both legs",
    )
    p.add_argument(
        "--before", default=None, metavar="REV", help="also run commit REV's gateway (before)"
    )
    p.add_argument(
        "--after",
        default=None,
        metavar="REV",
        help="run commit REV as the after side instead of this checkout's working tree",
    )
    p.add_argument(
        "--after-policy",
        default=None,
        metavar="FILE",
        help="the policy the after side publishes in its default leg (a like-for-like "
        "comparison, e.g. bench/policies/default_user_roles.yaml)",
    )
    p.add_argument("--ttft-streams", type=int, default=0, help="TTFT streams per gateway leg")
    p.add_argument("--ttft-words", type=int, default=80, help="words per TTFT stream")
    p.add_argument("--ttft-chunk-ms", type=float, default=20.0, help="gap between words, ms")
    p.add_argument("--litellm-bin", default=None)
    p.add_argument("--workbench-bin", default=None)
    p.add_argument("--start-timeout", type=float, default=300.0, help="readiness timeout, s")
    p.add_argument("--request-timeout", type=float, default=60.0)
    p.add_argument("--json-out", default=None, help="also write all figures to this file")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs and process logs")
    a = p.parse_args(argv)
    a.level_list = [int(x) for x in a.levels.split(",") if x.strip()]
    if not a.level_list or min(a.level_list) < 1 or a.requests < 1 or a.repeat < 1:
        p.error("levels, --requests and --repeat must be positive")
    if a.ttft_streams < 0 or a.ttft_words < 1:
        p.error("--ttft-streams must be >= 0 and --ttft-words >= 1")
    a.policies = ["none", "default"] if a.policy == "both" else [a.policy]
    return a


def make_runner(
    a: argparse.Namespace, table: dict[int, dict[str, Cell]]
) -> Callable[[Any, Proc], int]:
    """``run_target(target, upstream)``: every level for one target; requests sent."""

    def run_target(t: Any, upstream: Proc) -> int:
        sent = 0
        idle = ""
        if t.proc is not None:
            c0, t0 = t.proc.cpu_seconds(), time.monotonic()
            time.sleep(2.0)
            t.idle_cpu_rate = (t.proc.cpu_seconds() - c0) / (time.monotonic() - t0)
            nproc = 1 + len(descendant_pids(t.proc.pid))
            idle = f", idle CPU {100 * t.idle_cpu_rate:.0f}% of a core ({nproc} processes)"
        print(f"\n--- {t.name}{': ' + t.note if t.note else ''}{idle}", flush=True)
        for lv in a.level_list:
            cell, n = measure(
                t,
                lv,
                requests=a.requests,
                warmup=a.warmup,
                repeat=a.repeat,
                upstream=upstream,
                timeout_s=a.request_timeout,
            )
            sent += n
            table[lv][t.name] = cell
            print(
                f"  c={lv}: p50 {cell.p50:.2f} ms, p99 {cell.p99:.2f} ms, {cell.rps:.1f} req/s, "
                f"errors {cell.errors}",
                flush=True,
            )
        return sent

    return run_target


def _other_legs(
    a: argparse.Namespace, workdir: Path, up_port: int, up: Proc, run: Callable[..., int]
) -> list[str]:
    failures = []
    if not a.skip_floor:
        try:
            with floor_leg(workdir, up_port) as t:
                run(t, up)
        except BenchError as exc:
            failures.append(f"floor: {exc}")
            print(f"floor leg FAILED: {exc}")
    if not a.skip_litellm:
        try:
            with litellm_leg(workdir, up_port, a.litellm_bin, a.start_timeout) as t:
                run(t, up)
        except BenchError as exc:
            failures.append(f"litellm: {exc}")
            print(f"\nLiteLLM leg FAILED: {exc}")
    return failures


def _our_legs(
    a: argparse.Namespace,
    workdir: Path,
    ports: tuple[int, int | None],
    up: Proc,
    run: Callable[..., int],
    stack: contextlib.ExitStack,
) -> tuple[dict[str, Any], list[str], str | None]:
    """Every gateway variant; (results by variant, failures, the before commit)."""
    trees: dict[str, Tree | None] = {"before": None, "after": None}
    failures: list[str] = []
    for label, rev in (("before", a.before), ("after", a.after)):
        if not rev:
            continue
        try:
            trees[label] = tree = stack.enter_context(before_tree(rev, workdir, label))
            print(f"\n{label}: {check_tree(tree)}", flush=True)
        except BenchError as exc:
            failures.append(f"{label}: {exc}")
            print(f"\nthe {label} tree could not be set up: {exc}")
    if a.after and trees["after"] is None:
        return {}, failures, None
    before = trees["before"]
    results: dict[str, Any] = {}
    after_policy = Path(a.after_policy).resolve() if a.after_policy else None
    for v in variants(a.policies, before, a.workbench_bin, trees["after"], after_policy):
        try:
            results[v.name] = gateway_leg(a, workdir, ports, up, run, v)
        except BenchError as exc:
            failures.append(f"{v.name}: {exc}")
            print(f"\nour gateway leg {v.name} FAILED: {exc}")
    return results, failures, before.rev[:12] if before else None


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    levels = a.level_list
    uv = install_uvloop()
    workdir = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    print(
        f"gateway overhead: fake upstream delay {a.delay_ms:g} ms, {a.requests} requests per run "
        f"(+ warm-up), levels {levels}, repeat {a.repeat} (medians)\n"
        f"machine: {os.cpu_count()} CPUs shared by the load generator (this process, "
        f"uvloop {'on' if uv else 'off'}), the fake upstream and the proxy under test; "
        f"one proxy runs at a time; all on 127.0.0.1; load average before: {load_average()}",
        flush=True,
    )
    table: dict[int, dict[str, Cell]] = {lv: {} for lv in levels}
    run = make_runner(a, table)
    failures: list[str] = []
    ours: dict[str, Any] = {}
    ttft: dict[str, Any] = {}
    before_rev: str | None = None
    try:
        with interrupts_raise(), contextlib.ExitStack() as stack:
            up, up_port = stack.enter_context(upstream_proc(workdir, a.delay_ms))
            words_port: int | None = None
            if a.ttft_streams > 0:
                words = fake_upstream("fake_words", workdir, chunk_delay_ms=a.ttft_chunk_ms)
                words_port = stack.enter_context(words)[1]
            run(Target("direct", f"http://{LOOPBACK}:{up_port}/v1", "fake-model"), up)
            if words_port is not None:
                ttft["direct"] = direct_ttft(a, words_port)
            failures += _other_legs(a, workdir, up_port, up, run)
            if not a.skip_gateway:
                ours, failed, before_rev = _our_legs(
                    a, workdir, (up_port, words_port), up, run, stack
                )
                failures += failed
    except KeyboardInterrupt:
        print("\ninterrupted: stopped all benchmark processes", file=sys.stderr)
        return 130
    finally:
        if a.keep_tmp or failures:
            print(f"\n(configs and process logs kept in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    ttft.update({k: v["ttft"] for k, v in ours.items() if "ttft" in v})
    comps = report(a, table, ours, ttft, before_rev)
    if a.json_out:
        data = {
            "args": vars(a),
            "cells": {
                str(lv): {k: c.__dict__ for k, c in cells.items()} for lv, cells in table.items()
            },
            "gateway_legs": ours,
            "ttft": ttft,
            "before_vs_after": [c.as_dict() for c in comps],
            "failures": failures,
        }
        Path(a.json_out).write_text(json.dumps(data, indent=2, default=str))
        print(f"figures written to {a.json_out}")
    if failures:
        print("\nlegs that did not run: " + "; ".join(f.split(":")[0] for f in failures))
        return 2
    return 0


def direct_ttft(a: argparse.Namespace, words_port: int) -> dict[str, Any]:
    """TTFT straight from the word-streaming upstream (the baseline)."""
    res = asyncio.run(
        measure_ttft(
            f"http://{LOOPBACK}:{words_port}/v1",
            model="fake-model",
            streams=a.ttft_streams,
            words=a.ttft_words,
        )
    )
    return res.as_dict()


if __name__ == "__main__":
    sys.exit(main())
