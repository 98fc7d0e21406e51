"""Issue 12's autoscaling demonstration: ramp the load, watch Serve scale the ingress.

``python -m bench.autoscale [--steps 1:10,4:20,16:90,4:30,1:30] [--max 4]`` (under
``flock /tmp/ray.lock``; it starts and stops its own one-node Ray cluster):

1. a fake upstream (20 ms) and a one-node cluster on loopback (:mod:`bench._cluster`);
2. ``workbench deploy --autoscale 1:MAX --max-ingress-per-node MAX`` with the
   ``--autoscale-option`` values printed at the start (a low ``target_ongoing_requests``
   and short delays, so that a step of tens of seconds is enough to see it: Serve's
   defaults wait 30 s before scaling up and 600 s before scaling down);
3. a closed-loop load whose concurrency follows ``--steps`` (``C:SECONDS`` each); every
   request's send-to-last-byte latency is kept, so the per-step and per-window
   percentiles are exact;
4. the ingress's running replicas and target, read from Serve's controller once a second
   by ``bench._serve_watch`` in its own process;
5. per step and per ``--window`` seconds: concurrency, replicas, requests/s, p50/p99;
   then every request sent checked in the log exactly once.

``--scale model`` scales a model's replicas instead: the ingress stays at one replica and
the load goes to the project's tiny local model (``provider: local``, ``model: tiny``)
whose deployment has ``models[].autoscaling`` (min 1, max ``--max``, the same target and
delays); the tables then follow that deployment (``model-tiny-local``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import _scale
from bench._cluster import LoopbackCluster, free_port
from bench._proc import LOOPBACK, BenchError, install_uvloop, interrupts_raise, load_average
from bench.loadgen import percentile

TAG = "bench-auto"
OPTIONS = {
    "target_ongoing_requests": 4,
    "upscale_delay_s": 3,
    "downscale_delay_s": 10,
    "look_back_period_s": 5,
    "metrics_interval_s": 1,
}


@dataclass
class Step:
    """One load step and what its requests measured (``t``: seconds since the ramp began)."""

    concurrency: int
    seconds: float
    t0: float = 0.0
    t1: float = 0.0
    done: list[tuple[float, float]] = field(default_factory=list)  # (t end, latency ms) ok
    errors: list[str] = field(default_factory=list)


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.autoscale", description=__doc__.split("\n")[0]
    )
    p.add_argument("--steps", default="1:10,4:20,16:90,4:30,1:30", help="C:SECONDS,...")
    p.add_argument("--max", type=int, default=4, help="most replicas of what scales")
    p.add_argument("--scale", choices=["ingress", "model"], default="ingress",
                   help="what scales: the ingress, or a local model's replicas")  # fmt: skip
    p.add_argument("--window", type=float, default=5.0, help="timeline window, seconds")
    p.add_argument("--delay-ms", type=float, default=20.0, help="fake upstream delay")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="override an --autoscale-option (see OPTIONS)")  # fmt: skip
    p.add_argument("--keep-tmp", action="store_true")
    p.add_argument("--json-out", type=Path, default=None)
    return p.parse_args(argv)


def _steps(spec: str) -> list[Step]:
    out = []
    for part in spec.split(","):
        c, _, s = part.partition(":")
        out.append(Step(int(c), float(s)))
    if not out or any(s.concurrency < 1 or s.seconds <= 0 for s in out):
        raise SystemExit(f"bad --steps {spec!r}")
    return out


async def ramp(url: str, key: str, steps: list[Step], start: float, model: str) -> int:
    """Run the steps back to back; the number of requests sent (numbered 1..N)."""
    seq = 0
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    async def worker(session: aiohttp.ClientSession, step: Step, end: float) -> None:
        nonlocal seq
        while time.monotonic() < end:
            seq += 1
            text = f"Request {seq}: say hello in five words."
            body = {"model": model, "max_tokens": 16, "user": TAG,
                    "messages": [{"role": "user", "content": text}]}  # fmt: skip
            t = time.monotonic()
            try:
                async with session.post(url, json=body, headers=headers) as resp:
                    raw = await resp.read()
                    status = resp.status
            except (TimeoutError, aiohttp.ClientError, OSError) as exc:
                step.errors.append(f"{type(exc).__name__}: {exc}"[:160])
                continue
            now = time.monotonic()
            if status == 200 and b'"choices"' in raw:
                step.done.append((now - start, 1000 * (now - t)))
            else:
                step.errors.append(f"HTTP {status}: {raw[:120]!r}")

    most = max(s.concurrency for s in steps)
    connector = aiohttp.TCPConnector(limit=most, keepalive_timeout=60)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        for step in steps:
            step.t0 = time.monotonic() - start
            end = time.monotonic() + step.seconds
            await asyncio.gather(*(worker(session, step, end) for _ in range(step.concurrency)))
            step.t1 = time.monotonic() - start
    return seq


def _stats(lat: list[float], seconds: float) -> str:
    lat = sorted(lat)
    rps = len(lat) / seconds if seconds > 0 else 0.0
    return f"{rps:>7.1f} {percentile(lat, 50):>7.1f} {percentile(lat, 99):>7.1f}"


def _replicas_between(
    samples: list[tuple[float, dict[str, Any]]], t0: float, t1: float, dep: str
) -> str:
    """``running/target`` of ``dep`` at the last watch sample in [t0, t1)."""
    inside = [s for t, s in samples if t0 <= t < t1]
    if not inside:
        return "-"
    ing = inside[-1].get(dep) or {}
    return f"{len(_scale.running(inside[-1], dep))}/{ing.get('target')}"


def report(
    steps: list[Step],
    samples: list[tuple[float, dict[str, Any]]],
    window: float,
    dep: str = _scale.INGRESS,
) -> None:
    """Per step, then per window: concurrency, ``dep``'s replicas, req/s, p50/p99."""
    print(f"\n{'step':>4} {'c':>3} {'secs':>5} {'ok':>6} {'err':>4} {'req/s':>7} {'p50':>7} "
          f"{'p99':>7}  {dep} running (min..max during step, at end)")  # fmt: skip
    for i, st in enumerate(steps, 1):
        counts = [len(_scale.running(s, dep)) for t, s in samples if st.t0 <= t < st.t1]
        span = f"{min(counts)}..{max(counts)}, {counts[-1]}" if counts else "-"
        lat = [ms for _, ms in st.done]
        print(f"{i:>4} {st.concurrency:>3} {st.t1 - st.t0:>5.0f} {len(lat):>6} {len(st.errors):>4} "
              f"{_stats(lat, st.t1 - st.t0)}  {span}")  # fmt: skip
    print(f"\ntimeline ({window:.0f} s windows; replicas = running/target at the window's end)")
    print(f"{'t s':>5} {'c':>3} {'replicas':>9} {'req/s':>7} {'p50':>7} {'p99':>7}")
    end = steps[-1].t1
    t = 0.0
    while t < end - 1e-6:
        t1 = min(t + window, end)
        lat = [ms for st in steps for te, ms in st.done if t <= te < t1]
        c = next((st.concurrency for st in steps if st.t0 <= t < st.t1), 0)
        print(f"{t:>5.0f} {c:>3} {_replicas_between(samples, t, t1, dep):>9} "
              f"{_stats(lat, t1 - t)}")  # fmt: skip
        t = t1
    print(f"\n{dep} as the controller reported it, at each change (t s: target, replica "
          "states)")  # fmt: skip
    prev = None
    for t, snap in samples:
        ing = snap.get(dep) or {}
        states = sorted(str(state) for state, _ in ing.get("replicas") or [])
        key = (ing.get("target"), tuple(states), ing.get("status"))
        if key != prev:
            print(f"{t:>7.1f}: target {key[0]}, {key[2]}, {', '.join(states) or '-'}")
            prev = key
    errors = [e for st in steps for e in st.errors]
    if errors:
        print(f"client errors: {len(errors)}, e.g. {errors[0]}")


LOCAL = "tiny-local"  # the local model --scale model puts the load on


def _deploy_options(a: argparse.Namespace) -> tuple[dict[str, str], list[str]]:
    options = {k: str(v) for k, v in OPTIONS.items()}
    for item in a.option:
        k, _, v = item.partition("=")
        options[k.strip()] = v.strip()
    if a.scale == "model":  # the ingress stays at one replica
        return options, []
    args = ["--autoscale", f"1:{a.max}", "--max-ingress-per-node", str(a.max)]
    for k, v in options.items():
        args += ["--autoscale-option", f"{k}={v}"]
    return options, args


def _local_model(a: argparse.Namespace, options: dict[str, str]) -> list[dict[str, Any]]:
    """The tiny local model with ``models[].autoscaling`` (``--scale model``), else none."""
    if a.scale != "model":
        return []
    keys = ("target_ongoing_requests", "upscale_delay_s", "downscale_delay_s",
            "look_back_period_s")  # fmt: skip
    scaling = {k: float(options[k]) for k in keys if k in options}
    return [{"name": LOCAL, "provider": "local", "model": "tiny",
             "autoscaling": {"min_replicas": 1, "max_replicas": a.max, **scaling}}]  # fmt: skip


def _run(a: argparse.Namespace, workdir: Path, steps: list[Step]) -> dict[str, Any]:
    home = workdir / "home"
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    options, deploy_args = _deploy_options(a)
    print(
        "autoscaling_config: min 1, max", a.max, ", ".join(f"{k}={v}" for k, v in options.items())
    )
    with _scale.fake_upstream(workdir, a.delay_ms) as up_port:
        # Serve's Python proxy, as when its recorded runs were made (with HAProxy on the
        # head only, replicas started on the worker would get no direct traffic)
        _scale.write_gateway_config(
            workdir, port, up_port, fast_proxy=False, extra_models=_local_model(a, options)
        )
        cluster = LoopbackCluster(_scale.cluster_env(home), workers=0)
        watcher = None
        try:
            t0 = time.monotonic()
            cluster.start()
            key = _scale.create_key(cluster.env)
            _scale.deploy(cluster.env, workdir, *deploy_args)
            _scale.wait_replicas(cluster.env, 1)
            _scale.wait_health(base)
            print(f"one-node cluster up and deployed in {time.monotonic() - t0:.0f} s", flush=True)
            watcher = _scale.Watcher(cluster.env, interval_s=1.0)
            deadline = time.monotonic() + 60
            while not watcher.samples and time.monotonic() < deadline:
                time.sleep(0.2)
            start, start_wall = time.monotonic(), time.time()
            model = LOCAL if a.scale == "model" else _scale.MODEL
            sent = asyncio.run(ramp(base + "/v1/chat/completions", key, steps, start, model))
            time.sleep(1.5)  # the last step's final sample
            watcher.stop()
            samples = [(t - start_wall, s) for t, s in watcher.samples]
            checks = _scale.check_logged(home, {TAG: sent})
        finally:
            if watcher is not None:
                watcher.stop()
            cluster.stop()
            if not a.keep_tmp:
                shutil.rmtree(cluster.temp, ignore_errors=True)
    return {"options": options, "samples": samples, "sent": sent, "checks": checks}


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    steps = _steps(a.steps)
    install_uvloop()
    what = "ingress" if a.scale == "ingress" else f"model {LOCAL}"
    print(f"autoscale bench: {what} 1..{a.max} replicas on one loopback node, steps "
          f"{a.steps}; load average {load_average()}", flush=True)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="autoscale-"))
    try:
        with interrupts_raise():
            out = _run(a, workdir, steps)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not a.keep_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
    report(steps, out["samples"], a.window,
           _scale.INGRESS if a.scale == "ingress" else f"model-{LOCAL}")  # fmt: skip
    (chk,) = out["checks"]
    print(f"\nlog check: sent {chk.sent}, logged once {chk.logged_once}, twice {chk.twice}, "
          f"missing {chk.missing}: {'ok' if chk.ok else 'FAILED'}")  # fmt: skip
    print(f"load average after: {load_average()}")
    print("NOTE: one machine, 2 shared cores: more replicas cannot add CPU here; "
          "this shows Serve's autoscaler following the load, not extra capacity.")  # fmt: skip
    if a.json_out:
        data = {"options": out["options"], "samples": out["samples"],
                "steps": [{"c": s.concurrency, "t0": s.t0, "t1": s.t1, "done": s.done,
                           "errors": s.errors} for s in steps]}  # fmt: skip
        a.json_out.write_text(json.dumps(data))
    errors = sum(len(s.errors) for s in steps)
    return 0 if chk.ok and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
