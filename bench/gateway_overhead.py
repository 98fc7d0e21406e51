"""Gateway overhead: direct vs floor pass-through vs LiteLLM's proxy vs our gateway.

``python -m bench.gateway_overhead [--levels 1,8,32] [--requests 300] [--delay-ms 20]
[--repeat 1] [--skip-floor] [--skip-litellm] [--skip-gateway]``

Starts the fake upstream (a subprocess), then for each target in turn (only one
proxy runs at a time) and each concurrency level sends warm-up requests (not
counted) and ``--requests`` non-streaming chat completions with the load generator
in this process, and prints per level: p50, p99, added p50/p99 over direct, req/s,
errors, and the CPU milliseconds per request of the proxy's process tree, the
upstream and the load generator; then the ratios of our gateway against LiteLLM
and the floor. With ``--repeat K`` every figure is the median of K runs.

After the gateway leg it checks that every request sent to the gateway (warm-up
included) is in the request log (``workbench logs query``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bench import _gateway
from bench._proc import (
    LOOPBACK,
    BenchError,
    Proc,
    descendant_pids,
    free_port,
    install_uvloop,
    interrupts_raise,
    load_average,
    python_module_argv,
    start_process,
    wait_ready,
)
from bench.loadgen import LoadResult, run_load

# Env for the LiteLLM proxy: no network fetches at start-up or on first use, no
# .env loading (PRODUCTION mode), errors-only logging (no per-request access log).
LITELLM_ENV = {
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True",
    "LITELLM_LOCAL_BLOG_POSTS": "True",
    "LITELLM_LOCAL_POLICY_TEMPLATES": "True",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS": "True",
    "LITELLM_TELEMETRY": "False",
    "LITELLM_DONT_SHOW_FEEDBACK_BOX": "True",
    "LITELLM_MODE": "PRODUCTION",
    "LITELLM_LOG": "ERROR",
    "DISABLE_ADMIN_UI": "True",
    "NO_DOCS": "True",
}
# never let a database/redis/master key from the caller's environment leak in
LITELLM_ENV_DROP = ("DATABASE_URL", "LITELLM_MASTER_KEY", "REDIS_HOST", "REDIS_URL")


@dataclass
class Target:
    name: str
    base_url: str
    model: str
    api_key: str | None = None
    proc: Proc | None = None
    note: str = ""
    idle_cpu_rate: float = 0.0  # CPU seconds per second the proxy tree burns idle


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


# ------------------------------------------------------------------ the legs
@contextlib.contextmanager
def upstream_proc(workdir: Path, delay_ms: float) -> Iterator[tuple[Proc, int]]:
    port = free_port()
    proc = start_process(
        "fake_upstream",
        python_module_argv("bench.fake_upstream", "--port", str(port), "--delay-ms", str(delay_ms)),
        log_dir=workdir,
    )
    try:
        wait_ready(proc, f"http://{LOOPBACK}:{port}/v1/models", timeout_s=30)
        yield proc, port
    finally:
        proc.stop()


@contextlib.contextmanager
def floor_leg(workdir: Path, up_port: int) -> Iterator[Target]:
    port = free_port()
    proc = start_process(
        "passthrough",
        python_module_argv(
            "bench.passthrough", "--port", str(port), "--upstream", f"http://{LOOPBACK}:{up_port}"
        ),
        log_dir=workdir,
    )
    try:
        wait_ready(proc, f"http://{LOOPBACK}:{port}/health", timeout_s=30)
        yield Target("floor", f"http://{LOOPBACK}:{port}/v1", "fake-model", proc=proc)
    finally:
        proc.stop()


def litellm_bin(explicit: str | None) -> str:
    if explicit:
        return explicit
    here = Path(sys.executable).parent / "litellm"
    if here.exists():
        return str(here)
    found = shutil.which("litellm")
    if not found:
        raise BenchError("LiteLLM is not installed (pip install -e '.[bench]'), or --skip-litellm")
    return found


@contextlib.contextmanager
def litellm_leg(workdir: Path, up_port: int, exe: str | None, timeout_s: float) -> Iterator[Target]:
    exe = litellm_bin(exe)
    port = free_port()
    master_key = "sk-bench-" + secrets.token_urlsafe(24)
    ldir = workdir / "litellm"
    ldir.mkdir(exist_ok=True)
    cfg = {
        "model_list": [
            {
                "model_name": "fake-upstream",
                "litellm_params": {
                    "model": "openai/fake-model",
                    "api_base": f"http://{LOOPBACK}:{up_port}/v1",
                    "api_key": "dummy",
                },
                # priced like a configured model, so cost tracking finds it
                "model_info": {"input_cost_per_token": 0.0, "output_cost_per_token": 0.0},
            }
        ],
        "litellm_settings": {"telemetry": False, "drop_params": True, "set_verbose": False},
        # no database_url: no DB, no spend logs; recent LiteLLM refuses to start
        # without a master key, so it gets a strong random one
        "general_settings": {"master_key": master_key},
    }
    cfg_path = ldir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    argv = [exe, "--config", str(cfg_path), "--host", LOOPBACK, "--port", str(port)]
    argv += ["--num_workers", "1"]
    t0 = time.monotonic()
    proc = start_process(
        "litellm", argv, log_dir=workdir, env=LITELLM_ENV, cwd=ldir, drop_env=LITELLM_ENV_DROP
    )
    try:
        wait_ready(proc, f"http://{LOOPBACK}:{port}/health/readiness", timeout_s=timeout_s)
        note = f"started in {time.monotonic() - t0:.1f} s"
        yield Target(
            "litellm", f"http://{LOOPBACK}:{port}/v1", "fake-upstream", master_key, proc, note
        )
    finally:
        proc.stop(first=signal.SIGTERM, grace_s=15.0)


# ------------------------------------------------------------------ output
def _f(x: float, fmt: str = "{:.1f}") -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else fmt.format(x)


def print_level(level: int, cells: dict[str, Cell]) -> None:
    direct = cells.get("direct")
    print(f"\nconcurrency {level}")
    hdr = (
        f"{'target':<9}{'p50 ms':>9}{'p99 ms':>9}{'+p50 ms':>9}{'+p99 ms':>9}{'req/s':>9}"
        f"{'errors':>8}{'proxy CPU':>11}{'net of idle':>13}{'upstr CPU':>11}{'loadgen CPU':>13}"
    )
    print(hdr)
    print(f"{'':<72}{'ms/req':>11}{'ms/req':>13}{'ms/req':>11}{'ms/req':>13}")
    for name in ("direct", "floor", "litellm", "gateway"):
        c = cells.get(name)
        if c is None:
            continue
        add50 = c.p50 - direct.p50 if direct and name != "direct" else math.nan
        add99 = c.p99 - direct.p99 if direct and name != "direct" else math.nan
        print(
            f"{name:<9}{_f(c.p50, '{:.2f}'):>9}{_f(c.p99, '{:.2f}'):>9}"
            f"{_f(add50, '{:+.2f}'):>9}{_f(add99, '{:+.2f}'):>9}{_f(c.rps):>9}"
            f"{c.errors:>8}{_f(c.proxy_cpu_ms, '{:.2f}'):>11}{_f(c.proxy_net_cpu_ms, '{:.2f}'):>13}"
            f"{_f(c.upstream_cpu_ms, '{:.2f}'):>11}{_f(c.loadgen_cpu_ms, '{:.2f}'):>13}"
        )
        for s in c.error_samples:
            print(f"{'':<9}error: {s}")


def _ratio(a: float, b: float) -> str:
    if math.isnan(a) or math.isnan(b) or b <= 0:
        return "n/a"
    return f"{a / b:.2f}x"


def print_ratios(levels: list[int], table: dict[int, dict[str, Cell]]) -> None:
    rows = []
    for lv in levels:
        cells = table.get(lv, {})
        d, g = cells.get("direct"), cells.get("gateway")
        if d is None or g is None:
            continue
        for other in ("litellm", "floor"):
            o = cells.get(other)
            if o is None:
                continue
            rows.append(
                f"  c={lv:<4} vs {other:<8} added p50 {_ratio(g.p50 - d.p50, o.p50 - d.p50):>8}"
                f"   req/s {_ratio(g.rps, o.rps):>7}"
            )
    if rows:
        print(
            "\nour gateway relative to (added p50: ours / theirs, lower is better; "
            "req/s: ours / theirs, higher is better)"
        )
        print("\n".join(rows))


# ------------------------------------------------------------------ main
def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.gateway_overhead", description=__doc__)
    p.add_argument("--levels", default="1,8,32", help="concurrency levels (default 1,8,32)")
    p.add_argument("--requests", type=int, default=300, help="counted requests per run")
    p.add_argument("--warmup", type=int, default=None, help="default max(10, 2 x concurrency)")
    p.add_argument("--delay-ms", type=float, default=20.0, help="fake upstream delay")
    p.add_argument("--repeat", type=int, default=1, help="runs per level; medians reported")
    p.add_argument("--skip-floor", action="store_true")
    p.add_argument("--skip-litellm", action="store_true")
    p.add_argument("--skip-gateway", action="store_true")
    p.add_argument("--litellm-bin", default=None)
    p.add_argument("--workbench-bin", default=None)
    p.add_argument("--start-timeout", type=float, default=300.0, help="readiness timeout, s")
    p.add_argument("--request-timeout", type=float, default=60.0)
    p.add_argument("--json-out", default=None, help="also write all figures to this file")
    p.add_argument("--keep-tmp", action="store_true", help="keep configs and process logs")
    a = p.parse_args(argv)
    levels = [int(x) for x in a.levels.split(",") if x.strip()]
    if not levels or min(levels) < 1 or a.requests < 1 or a.repeat < 1:
        p.error("levels, --requests and --repeat must be positive")

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
    failures: list[str] = []
    log_check: dict[str, Any] = {}

    def run_target(t: Target, upstream: Proc) -> int:
        sent = 0
        idle = ""
        if t.proc is not None:
            c0, t0 = t.proc.cpu_seconds(), time.monotonic()
            time.sleep(2.0)
            t.idle_cpu_rate = (t.proc.cpu_seconds() - c0) / (time.monotonic() - t0)
            idle_pct = 100 * t.idle_cpu_rate
            nproc = 1 + len(descendant_pids(t.proc.pid))
            idle = f", idle CPU {idle_pct:.0f}% of a core ({nproc} processes)"
        print(f"\n--- {t.name}{': ' + t.note if t.note else ''}{idle}", flush=True)
        for lv in levels:
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

    try:
        with interrupts_raise(), upstream_proc(workdir, a.delay_ms) as (up, up_port):
            run_target(Target("direct", f"http://{LOOPBACK}:{up_port}/v1", "fake-model"), up)
            if not a.skip_floor:
                try:
                    with floor_leg(workdir, up_port) as t:
                        run_target(t, up)
                except BenchError as exc:
                    failures.append(f"floor: {exc}")
                    print(f"floor leg FAILED: {exc}")
            if not a.skip_litellm:
                try:
                    with litellm_leg(workdir, up_port, a.litellm_bin, a.start_timeout) as t:
                        run_target(t, up)
                except BenchError as exc:
                    failures.append(f"litellm: {exc}")
                    print(f"\nLiteLLM leg FAILED: {exc}")
            if not a.skip_gateway:
                try:
                    log_check = gateway_leg(a, workdir, up_port, up, run_target)
                except BenchError as exc:
                    failures.append(f"gateway: {exc}")
                    print(f"\nour gateway leg FAILED (is `workbench up` working yet?): {exc}")
    except KeyboardInterrupt:
        print("\ninterrupted: stopped all benchmark processes", file=sys.stderr)
        return 130
    finally:
        if a.keep_tmp or failures:
            print(f"\n(configs and process logs kept in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print("\n=== results (medians) ===")
    for lv in levels:
        if table[lv]:
            print_level(lv, table[lv])
    print_ratios(levels, table)
    if log_check:
        print(
            f"\nrequest log: {log_check['logged']} rows for {log_check['sent']} requests sent "
            f"to the gateway (warm-up included): {log_check['verdict']}"
        )
    print(f"\nload average after: {load_average()} (other work on the machine skews the figures)")
    print(
        "\nCPU columns: CPU time of the process tree during the counted phase / requests "
        "(the gateway's tree includes all of Ray's processes); 'net of idle' subtracts the "
        "tree's idle CPU rate (measured for 2 s before the load) x the phase's wall time."
    )
    if a.json_out:
        Path(a.json_out).write_text(
            json.dumps(
                {
                    "args": vars(a),
                    "cells": {
                        str(lv): {k: c.__dict__ for k, c in cells.items()}
                        for lv, cells in table.items()
                    },
                    "log_check": log_check,
                    "failures": failures,
                },
                indent=2,
                default=str,
            )
        )
        print(f"figures written to {a.json_out}")
    if failures:
        print("\nlegs that did not run: " + "; ".join(f.split(":")[0] for f in failures))
        return 2
    return 0


def gateway_leg(
    a: argparse.Namespace,
    workdir: Path,
    up_port: int,
    up: Proc,
    run_target: Callable[[Target, Proc], int],
) -> dict[str, Any]:
    gdir = workdir / "gateway"
    gdir.mkdir(exist_ok=True)
    models = [
        {
            "name": "fake-upstream",
            "provider": "openai-compatible",
            "base_url": f"http://{LOOPBACK}:{up_port}/v1",
            "model": "fake-model",
            "api_key_env": _gateway.UPSTREAM_KEY_ENV,
        }
    ]
    gw = _gateway.start_gateway(models, gdir, wb=a.workbench_bin, ready_timeout_s=a.start_timeout)
    try:
        t = Target(
            "gateway",
            gw.base_url,
            "fake-upstream",
            gw.api_key,
            gw.proc,
            f"started in {gw.startup_s:.1f} s",
        )
        sent = run_target(t, up)
        print(f"  waiting for the log flush, then counting rows ({sent} requests sent)...")
        logged = _gateway.wait_logged(gw, sent)
        verdict = "OK, every request logged" if logged == sent else "MISMATCH"
        after_stop = None
        if logged != sent:
            gw.stop()
            after_stop = _gateway.count_logged(gw)
            verdict += f" (after an orderly stop: {after_stop} rows)"
        return {"sent": sent, "logged": logged, "after_stop": after_stop, "verdict": verdict}
    finally:
        gw.stop()


if __name__ == "__main__":
    sys.exit(main())
