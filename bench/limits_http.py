"""Limits through HTTP with two ingress replicas: issue 10's burst against a real gateway.

``python -m bench.limits_http [--clients 8] [--per-client 200] [--replicas 2]``

Starts ``workbench up`` with ``gateway.ingress_replicas: N`` (Ray Serve spreads the
requests over the ingress replicas; each runs its own Limiter holding leases from the one
counter authority) in front of a fake OpenAI upstream priced at $1,000 / $2,000 per
million tokens, with two rules set through the CLI before the start:

- ``rpm``: 100 requests/min for workspace ``rpm``;
- ``usd``: a $1/day hard budget for workspace ``usd``.

Then, for each rule in turn, ``--clients`` HTTP clients x ``--per-client`` concurrent
chat completions (one key per workspace) hit the gateway at once, and it prints what the
clients saw (answered, refused by the rule, other), the spend the request log records
for the answered ones, and the overshoot (answered beyond 100; dollars beyond $1). The
requests/min burst starts early in a UTC minute (the counter is per fixed minute).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from bench._gateway import _run_cli, create_key, start_gateway, workbench_bin
from bench._proc import load_average
from bench.fake_upstream import FakeUpstreamThread

PRICES = {
    "version": "bench-limits",
    "currency": "USD",
    "local_per_million": {"input": 0.0, "output": 0.0},
    "models": {"bench-priced": {"input": 1000.0, "output": 2000.0}},
}
RPM, BUDGET = 100, 1.0


def _rules(wb: str, env: dict[str, str], cwd: Path) -> None:
    for args in (
        ["limits", "set", "rpm", "--kind", "requests", "--scope", "workspace",
         "--subject", "rpm", "--limit", str(RPM)],
        ["budgets", "set", "usd", "--scope", "workspace", "--subject", "usd",
         "--amount", str(BUDGET), "--period", "day"],
    ):  # fmt: skip
        cp = _run_cli(wb, args, env, cwd)
        if cp.returncode != 0:
            raise SystemExit(f"`workbench {' '.join(args)}` failed: {cp.stderr or cp.stdout}")


async def _client(url: str, key: str, n: int) -> list[tuple[int, str | None, str | None]]:
    body = {"model": "priced", "max_tokens": 16,
            "messages": [{"role": "user", "content": "hello world foo bar"}]}  # fmt: skip
    limits = httpx.Limits(max_connections=n, max_keepalive_connections=n)
    async with httpx.AsyncClient(timeout=120, limits=limits) as client:

        async def one() -> tuple[int, str | None, str | None]:
            r = await client.post(url, json=body, headers={"Authorization": f"Bearer {key}"})
            code = r.json().get("error", {}).get("code") if r.status_code != 200 else None
            return r.status_code, code, r.headers.get("x-workbench-request-id")

        return list(await asyncio.gather(*(one() for _ in range(n))))


async def _burst(url: str, key: str, clients: int, per: int) -> list[Any]:
    results = await asyncio.gather(*(_client(url, key, per) for _ in range(clients)))
    return [r for rs in results for r in rs]


def _early_in_a_minute() -> None:
    while time.gmtime().tm_sec > 20:
        time.sleep(0.5)


def _wait_replicas(port: int, want: int, timeout_s: float = 180.0) -> dict[str, Any]:
    """The deployments' running replicas once the ingress has ``want`` (else exit)."""
    deadline, running = time.monotonic() + timeout_s, {}
    while time.monotonic() < deadline:
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        running = {k: v.get("running") for k, v in (health.get("deployments") or {}).items()}
        if running.get("Gateway") == want:
            return running
        time.sleep(2)
    raise SystemExit(f"the ingress never reached {want} running replicas: {running}")


def _spent(home: Path, ids: list[str]) -> float:
    from workbench.logstore import query

    if not ids:
        return 0.0
    wanted = ", ".join(f"'{i}'" for i in ids)
    sql = f"select coalesce(sum(cost_usd), 0) as usd from requests where request_id in ({wanted})"
    return float(query(sql, root=home / "logs").to_dicts()[0]["usd"])


def _report(name: str, results: list[Any], wall: float) -> list[str]:
    seen = collections.Counter((status, code) for status, code, _ in results)
    print(f"--- {name}: {len(results)} requests in {wall:.1f} s")
    for (status, code), n in sorted(seen.items(), key=lambda kv: -kv[1]):
        print(f"    {status} {code or ''}: {n}")
    return [rid for status, _, rid in results if status == 200 and rid]


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-client", type=int, default=200)
    ap.add_argument("--replicas", type=int, default=2)
    a = ap.parse_args(argv)
    print(f"limits over HTTP: {a.replicas} ingress replicas, {a.clients} clients x "
          f"{a.per_client} concurrent; load average {load_average()}")  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="bench-limits-http-") as tmp,
        FakeUpstreamThread(delay_ms=20) as up,
    ):
        work = Path(tmp)
        home = work / "home"
        home.mkdir()
        prices = work / "prices.yaml"
        prices.write_text(yaml.safe_dump(PRICES))
        env = {"WORKBENCH_HOME": str(home)}
        wb = workbench_bin()
        _rules(wb, env, work)
        model = {"name": "priced", "provider": "openai-compatible", "base_url": up.base_url,
                 "model": "bench-priced", "api_key_env": "BENCH_UPSTREAM_KEY"}  # fmt: skip
        gw = start_gateway([model], work, gateway={"ingress_replicas": a.replicas},
                           config={"pricing": str(prices)})  # fmt: skip
        print(f"gateway ready in {gw.startup_s:.1f} s")
        running = _wait_replicas(gw.port, a.replicas)
        print(f"replicas running (/health): {running}")
        try:
            url = gw.base_url + "/chat/completions"
            rpm_key = create_key(wb, gw.env, work, workspace="rpm")
            usd_key = create_key(wb, gw.env, work, workspace="usd")
            _early_in_a_minute()
            t0, started = time.monotonic(), time.strftime("%H:%M:%S", time.gmtime())
            res = asyncio.run(_burst(url, rpm_key, a.clients, a.per_client))
            ended = time.strftime("%H:%M:%S", time.gmtime())
            ok_rpm = _report("100 requests/min", res, time.monotonic() - t0)
            print(f"    (burst from {started} to {ended} UTC: one fixed minute)")
            t0 = time.monotonic()
            res = asyncio.run(_burst(url, usd_key, a.clients, a.per_client))
            ok_usd = _report("$1 budget", res, time.monotonic() - t0)
        finally:
            gw.stop()
        spent = _spent(home, ok_usd)
        print("=== results ===")
        print(f"requests/min: {len(ok_rpm)} answered of {a.clients * a.per_client} "
              f"(limit {RPM}), overshoot {max(0, len(ok_rpm) - RPM)}")  # fmt: skip
        print(f"budget: {len(ok_usd)} answered, ${spent:.4f} logged (budget ${BUDGET:g}), "
              f"overshoot ${max(0.0, spent - BUDGET):.4f}")  # fmt: skip
        print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
