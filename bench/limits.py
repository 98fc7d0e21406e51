"""Hot-path cost of budgets and rate limits: leased quotas vs one authority round trip
per request, in process and through the Ray actor, side by side in one run.

``python -m bench.limits [--requests 2000] [--concurrency 8] [--no-ray]``

Each mode runs one :class:`~workbench.limits.Limiter` against a fresh authority with
four rules that all apply (requests/min, tokens/min, concurrent, a USD budget; limits
high enough never to refuse) and times ``admit`` + ``settle`` of every request
(``--concurrency`` at a time on one event loop; warm-up not counted). The baseline of
each authority is ``leasing=False``: every request asks the authority for exactly what
it needs (one round trip per request, the way a per-request counter service works);
the other is the leased mode the gateway uses. Prints p50/p99 per request in
microseconds and authority round trips per request. Ray runs need the Ray lock on the
shared machine: ``flock /tmp/ray.lock python -m bench.limits``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
from typing import Any

from bench._proc import load_average

SUBJECTS = {"key": "k1", "user": "u1", "workspace": "w", "model": "m"}
NEEDS = {"requests": 1, "concurrent": 1, "tokens": 300, "budget": 50_000}


def _rules() -> list[Any]:
    from workbench.limits import Rule

    return [
        Rule("rpm", "requests", "key", "*", 10_000_000),
        Rule("tpm", "tokens", "workspace", "*", 10_000_000_000),
        Rule("conc", "concurrent", "key", "*", 10_000),
        Rule("usd", "budget", "workspace", "w", 1_000_000.0, period="day"),
    ]


async def _measure(authority: Any, leasing: bool, n: int, conc: int) -> dict[str, Any]:
    from workbench.limits import Limiter, LimitsStore

    lim = Limiter(authority, store=LimitsStore(), leasing=leasing)
    times: list[float] = []
    sem = asyncio.Semaphore(conc)

    async def one(record: bool) -> None:
        async with sem:
            t0 = time.perf_counter()
            adm = await lim.admit(SUBJECTS, "w", NEEDS)
            lim.settle(adm, {"tokens": 200, "budget": 30_000})
            if record:
                times.append((time.perf_counter() - t0) * 1e6)

    await asyncio.gather(*(one(False) for _ in range(min(200, n))))
    trips0 = lim.round_trips
    t0 = time.perf_counter()
    await asyncio.gather(*(one(True) for _ in range(n)))
    wall = time.perf_counter() - t0
    trips = lim.round_trips - trips0
    await lim.close()
    times.sort()
    return {
        "p50_us": statistics.median(times),
        "p99_us": times[int(len(times) * 0.99) - 1],
        "req_s": n / wall,
        "trips_per_req": trips / n,
    }


def _fresh_store() -> None:
    os.environ["WORKBENCH_HOME"] = tempfile.mkdtemp(prefix="bench-limits-")
    from workbench.limits import LimitsStore

    store = LimitsStore()
    for r in _rules():
        store.put(r)


async def _local(leasing: bool, n: int, conc: int) -> dict[str, Any]:
    from workbench.limits import LocalAuthority

    _fresh_store()
    return await _measure(LocalAuthority(), leasing, n, conc)


async def _ray(leasing: bool, n: int, conc: int, tag: str) -> dict[str, Any]:
    import ray

    from serve.limits import RayAuthority

    _fresh_store()
    auth = RayAuthority(name=f"bench-limits-{tag}", home=os.environ["WORKBENCH_HOME"])
    try:
        return await _measure(auth, leasing, n, conc)
    finally:
        ray.kill(ray.get_actor(auth.name, namespace=auth.namespace))


def _start_ray() -> None:
    import ray

    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False,
             _node_ip_address="127.0.0.1")  # fmt: skip


async def main_async(args: argparse.Namespace) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    n, c = args.requests, args.concurrency
    rows.append(("in-process, round trip per request", await _local(False, n, c)))
    rows.append(("in-process, leased", await _local(True, n, c)))
    if not args.no_ray:
        rows.append(("Ray actor, round trip per request", await _ray(False, n, c, "direct")))
        rows.append(("Ray actor, leased", await _ray(True, n, c, "leased")))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--no-ray", action="store_true", help="In-process authority only.")
    args = parser.parse_args()
    print(f"load average before: {load_average()}")
    if not args.no_ray:
        _start_ray()
    try:
        rows = asyncio.run(main_async(args))
    finally:
        if not args.no_ray:
            import ray

            ray.shutdown()
    print(f"limiter admit+settle, 4 rules, {args.requests} requests at c={args.concurrency}")
    print(f"{'mode':38} {'p50 us':>9} {'p99 us':>9} {'req/s':>9} {'trips/req':>10}")
    for name, r in rows:
        print(f"{name:38} {r['p50_us']:9.1f} {r['p99_us']:9.1f} {r['req_s']:9.0f} "
              f"{r['trips_per_req']:10.3f}")  # fmt: skip
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
