"""Issue 12's scale-out bench: 1 vs 2 ingress replicas on a two-node Ray cluster.

``python -m bench.scale_out [--levels 8,32] [--requests 400]`` (under ``flock
/tmp/ray.lock``; it starts and stops its own cluster):

1. a fake upstream (``bench.fake_upstream``, 20 ms before its first byte) as a process;
2. a two-node Ray cluster on loopback with token auth (:class:`bench._cluster.LoopbackCluster`,
   as ``tests/serve/test_cluster_e2e.py`` starts it): the head on 127.0.0.2 (advertising
   ``workbench_head``), a worker on 127.0.0.3;
3. ``workbench deploy --ingress-replicas 1`` the documented way (a gateway config in a
   project directory, a key made with the CLI), then a bounded load per level
   (``bench.loadgen``: fixed concurrency, a fixed number of requests after a warm-up);
4. ``workbench deploy --ingress-replicas 2`` (one per node: ``max_replicas_per_node: 1``),
   the same load again;
5. every request sent (warm-up included) must be in the log exactly once;
6. one table: requests/s, p50/p99 and the CPU seconds each node's processes spent per
   request, 1 vs 2 replicas side by side, the scaling ratio, and where each replica ran.

Only the head runs an HTTP proxy (``--proxy-location HeadOnly``: both nodes would bind the
same loopback port). Both nodes share this machine's cores, so the ratio shows the
mechanics, not the scaling a second machine would give.

What a leg measures depends on where its replicas are (see bench/README.md, "scale-out"):
with ``gateway.fast_proxy`` on (the default, ``--fast-proxy on``) the head's HAProxy sends
requests straight to an ingress replica on the head; when the only replica is on the
worker, each request instead goes through Serve's Python proxy actor and a Ray call to the
replica, which then pulls the request body back from the proxy (about 5 ms of CPU in the
proxy and 5 in the replica per request on this machine). ``--fast-proxy off`` sends every
request that way.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bench import _scale
from bench._cluster import LoopbackCluster, free_port
from bench._proc import LOOPBACK, BenchError, install_uvloop, interrupts_raise, load_average
from bench.loadgen import LoadResult, run_load

NODE_NAMES = {"127.0.0.2": "head", "127.0.0.3": "worker"}


@dataclass
class Leg:
    """One load level against one ingress replica count."""

    replicas: int
    tag: str
    result: LoadResult
    cpu_s: dict[str, float] = field(default_factory=dict)  # per node, counted phase


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.scale_out", description=__doc__.split("\n")[0]
    )
    p.add_argument("--levels", default="8,32", help="concurrency levels (default 8,32)")
    p.add_argument("--requests", type=int, default=400, help="counted requests per level")
    p.add_argument("--warmup", type=int, default=None, help="default max(10, 2 x c)")
    p.add_argument("--delay-ms", type=float, default=20.0, help="fake upstream delay")
    p.add_argument("--fast-proxy", choices=["on", "off"], default="on",
                   help="gateway.fast_proxy (default on, as users run it; off: Serve's "
                   "Python proxy for every request)")  # fmt: skip
    p.add_argument("--ack", choices=["default", "on", "off"], default="default",
                   help="logging.ack_before_response (default: the config's default, on "
                   "under workbench deploy)")  # fmt: skip
    p.add_argument("--json-out", type=Path, default=None)
    p.add_argument("--keep-tmp", action="store_true", help="keep configs, logs, Ray's temp")
    return p.parse_args(argv)


def _load(base: str, key: str, c: int, a: argparse.Namespace, tag: str,
          cluster: LoopbackCluster) -> tuple[LoadResult, dict[str, float]]:  # fmt: skip
    """One counted load level; the CPU seconds each node spent during it."""
    before: dict[str, float] = {}

    def mark() -> None:
        before.update(cluster.node_cpu_seconds())

    result = asyncio.run(
        run_load(
            base,
            concurrency=c,
            requests=a.requests,
            warmup=a.warmup,
            model=_scale.MODEL,
            api_key=key,
            extra_body={"user": tag},
            before_measure=mark,
        )  # fmt: skip
    )
    after = cluster.node_cpu_seconds()
    return result, {n: after[n] - before.get(n, 0.0) for n in after}


def _legs(replicas: int, base: str, key: str, levels: list[int], a: argparse.Namespace,
          cluster: LoopbackCluster) -> list[Leg]:  # fmt: skip
    legs = []
    for c in levels:
        tag = f"bench-r{replicas}-c{c}"
        result, cpu = _load(base + "/v1", key, c, a, tag, cluster)
        legs.append(Leg(replicas, tag, result, cpu))
        print(f"  {replicas} replica(s) c={c}: {result.rps:.1f} req/s, p50 {result.p50_ms:.1f} "
              f"ms, p99 {result.p99_ms:.1f} ms, errors {result.errors}", flush=True)  # fmt: skip
        for sample in result.error_samples[:2]:
            print(f"    error: {sample}", flush=True)
    return legs


def _cpu_ms(leg: Leg) -> str:
    ok = max(1, leg.result.ok)
    return "/".join(f"{1000 * leg.cpu_s.get(n, 0.0) / ok:.1f}" for n in ("head", "worker"))


def report(
    legs: list[Leg], placements: dict[int, list[str]], checks: list[_scale.LogCheck]
) -> None:
    """The side-by-side table, the ratios, the placements and the log check."""
    by = {(leg.replicas, leg.result.concurrency): leg for leg in legs}
    levels = sorted({leg.result.concurrency for leg in legs})
    head = f"{'c':>4} {'n':>5} |{'1 replica: req/s':>17} {'p50':>7} {'p99':>7} {'CPU ms h/w':>11}"
    head += f" |{'2 replicas: req/s':>18} {'p50':>7} {'p99':>7} {'CPU ms h/w':>11} | {'ratio':>5}"
    print("\n" + head + "\n" + "-" * len(head))
    for c in levels:
        one, two = by.get((1, c)), by.get((2, c))
        if one is None or two is None:
            continue
        r1, r2 = one.result, two.result
        ratio = r2.rps / r1.rps if r1.rps else float("nan")
        print(f"{c:>4} {r1.requests:>5} |{r1.rps:>17.1f} {r1.p50_ms:>7.1f} {r1.p99_ms:>7.1f} "
              f"{_cpu_ms(one):>11} |{r2.rps:>18.1f} {r2.p50_ms:>7.1f} {r2.p99_ms:>7.1f} "
              f"{_cpu_ms(two):>11} | x{ratio:.2f}")  # fmt: skip
    print("(req/s over the counted requests; p50/p99 in ms; CPU ms h/w: CPU milliseconds per "
          "request of every process of the head / worker node's session)")  # fmt: skip
    for n, lines in sorted(placements.items()):
        print(f"\nplacement with --ingress-replicas {n} (Serve controller):")
        print("\n".join(lines))
    print("\nlog check (warm-up included), per leg: sent / logged once / twice / missing")
    for chk in checks:
        print(f"  {chk.tag:<18} {chk.sent:>5} {chk.logged_once:>5} {chk.twice:>5} {chk.missing:>5}"
              f"  {'ok' if chk.ok else 'FAILED'}")  # fmt: skip
    errors = sum(leg.result.errors for leg in legs)
    print(f"client errors: {errors}")
    print("\n" + _scale.CAVEAT)


def _run(a: argparse.Namespace, workdir: Path) -> tuple[list[Leg], dict[int, list[str]], list]:
    levels = [int(x) for x in a.levels.split(",") if x.strip()]
    home = workdir / "home"
    port = free_port()
    base = f"http://{LOOPBACK}:{port}"
    legs: list[Leg] = []
    placements: dict[int, list[str]] = {}
    with _scale.fake_upstream(workdir, a.delay_ms) as up_port:
        ack = {"default": None, "on": True, "off": False}[a.ack]
        _scale.write_gateway_config(
            workdir, port, up_port, fast_proxy=a.fast_proxy == "on", ack_before_response=ack
        )
        cluster = LoopbackCluster(_scale.cluster_env(home))
        try:
            t0 = time.monotonic()
            cluster.start()
            print(f"cluster up in {time.monotonic() - t0:.0f} s (head 127.0.0.2, worker "
                  f"127.0.0.3, token auth)", flush=True)  # fmt: skip
            key = _scale.create_key(cluster.env)
            for n in (1, 2):
                t0 = time.monotonic()
                _scale.deploy(
                    cluster.env, workdir, "--min-nodes", "2", "--ingress-replicas", str(n)
                )
                snap = _scale.wait_replicas(cluster.env, n)
                _scale.wait_health(base)
                print(f"deployed with --ingress-replicas {n} in {time.monotonic() - t0:.0f} s",
                      flush=True)  # fmt: skip
                placements[n] = _scale.placement_lines(snap, NODE_NAMES)
                legs += _legs(n, base, key, levels, a, cluster)
            sent = {leg.tag: leg.result.sent_total for leg in legs}
            checks = _scale.check_logged(home, sent)
        finally:
            cluster.stop()
            if a.keep_tmp:
                print(f"kept: {workdir} and Ray's temp {cluster.temp}")
            else:
                shutil.rmtree(cluster.temp, ignore_errors=True)
    return legs, placements, checks


def main(argv: list[str] | None = None) -> int:
    a = _parse(argv)
    install_uvloop()
    print(f"scale-out bench: 1 vs 2 ingress replicas on two loopback nodes; load average "
          f"{load_average()}", flush=True)  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="scale-out-"))
    try:
        with interrupts_raise():
            legs, placements, checks = _run(a, workdir)
    except BenchError as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not a.keep_tmp:
            shutil.rmtree(workdir, ignore_errors=True)
    report(legs, placements, checks)
    print(f"load average after: {load_average()}")
    if a.json_out:
        data = {"legs": [asdict(leg) for leg in legs], "placements": placements,
                "log": [asdict(c) for c in checks]}  # fmt: skip
        a.json_out.write_text(json.dumps(data, indent=2, default=str))
    bad = any(not c.ok for c in checks) or any(leg.result.errors for leg in legs)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
