"""Reliability report: faulty upstreams behind our gateway, and what clients and the log saw.

``python -m bench.reliability [--requests 60] [--concurrency 8] [--scenarios a,b]
[--in-process] [--json-out FILE]``

Starts two fake OpenAI upstreams as processes (``python -m bench.fake_providers``): a
*primary* whose fault switch each scenario sets, and a healthy *backup*; then our gateway
(``workbench up``; ``--in-process``: the same pipeline without Ray) with one policy whose
routing section gives every scenario its own route, ``fallback: [primary-<scenario>,
backup]`` (retry once, circuit breaker), so one scenario's breaker does not carry over
to the next. Each scenario sends a bounded load (``--requests`` at ``--concurrency``;
streamed, non-streamed or alternating), each request with a unique ``x-trace-id``, then
counts the log records per trace id.

Prints one row per scenario: requests sent, answered 2xx (a stream counts only when it
ended with ``[DONE]``), failed (by status: an HTTP status, ``sse:<code>`` for an error
event inside a stream, ``conn`` for no answer), logged, logged exactly once, and how
many requests reached the primary and the backup. Exits 1 when a request is unlogged or
logged twice, or a scenario whose failures a fallback can hide (all but those that fail
after the first streamed byte) let a client see an error; 2 when the gateway could not
start.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import secrets
import shutil
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench import _gateway
from bench._hosts import Host, InProcessHost, RayHost, wait_logged
from bench._proc import (
    LOOPBACK,
    BenchError,
    Proc,
    free_port,
    install_uvloop,
    interrupts_raise,
    load_average,
    python_module_argv,
    start_process,
    wait_ready,
)
from bench.loadgen import percentile


@dataclass(frozen=True)
class Scenario:
    """One fault of the primary upstream and how the load looks."""

    name: str
    fault: dict[str, Any]
    stream: str = "mixed"  # "mixed" (odd requests streamed) | "stream" | "json"
    down: bool = False  # the primary is a closed port
    timeouts: dict[str, float] | None = None  # route-level timeouts of the primary
    hideable: bool = True  # a fallback can hide every failure: clients must see none


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", {"mode": "ok"}),
    Scenario("primary-500", {"mode": "500"}),
    Scenario("primary-429", {"mode": "429", "retry_after": 0.2}),
    Scenario(
        "primary-hang", {"mode": "hang", "hang_s": 60}, timeouts={"first_byte": 0.5, "total": 1}
    ),
    Scenario("primary-down", {"mode": "ok"}, down=True),
    Scenario("drop-mid-stream", {"mode": "drop_mid_stream"}, stream="stream", hideable=False),
    Scenario("malformed-json", {"mode": "malformed_json"}, stream="json"),
    Scenario("malformed-sse", {"mode": "malformed_sse"}, stream="stream", hideable=False),
)
ROUTING_EXTRA = {
    "retry": {"attempts": 1, "backoff_base_ms": 20},
    "circuit_breaker": {"failure_threshold": 5, "cooldown_s": 30},
}


@dataclass
class Row:
    """What one scenario measured."""

    scenario: str
    stream: str
    sent: int = 0
    answered: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    logged: int = 0
    logged_once: int = 0
    logged_twice: int = 0
    primary_calls: int = 0
    backup_calls: int = 0
    p50_ms: float = float("nan")
    verdict: str = ""


# ------------------------------------------------------------------ config
def models_and_policy(
    scenarios: list[Scenario], primary_url: str, backup_url: str
) -> tuple[list[dict[str, Any]], str]:
    """The gateway's ``models:`` and the policy (YAML) with one route per scenario."""
    dead = f"http://{LOOPBACK}:{free_port()}/v1"
    remote = {"provider": "openai-compatible", "model": "fake-model"}
    remote["api_key_env"] = _gateway.UPSTREAM_KEY_ENV
    models: list[dict[str, Any]] = [{"name": "backup", **remote, "base_url": backup_url}]
    routes: dict[str, Any] = {}
    for s in scenarios:
        name = f"primary-{s.name}"
        url = dead if s.down else primary_url
        models.append({"name": name, **remote, "base_url": url, "timeouts": {"connect": 1}})
        first: dict[str, Any] = {"target": name}
        if s.timeouts:
            first["timeouts"] = s.timeouts
        routes[f"rel-{s.name}"] = {"mode": "fallback", "targets": [first, "backup"]}
    policy = {
        "id": "reliability",
        "applies_to": {"workspaces": ["*"], "models": sorted(routes)},
        "routing": {"routes": routes, **ROUTING_EXTRA},
    }
    return models, yaml.safe_dump(policy, sort_keys=False)


# ------------------------------------------------------------------ fakes
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _control(port: int, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"http://{LOOPBACK}:{port}{path}", data=data)
    req.add_header("Content-Type", "application/json")
    with _OPENER.open(req, timeout=10) as resp:
        out: dict[str, Any] = json.loads(resp.read())
        return out


@contextlib.contextmanager
def fake_upstream(
    name: str, workdir: Path, chunk_delay_ms: float = 0.0
) -> Iterator[tuple[Proc, int]]:
    """``python -m bench.fake_providers --format openai`` as a process (its port)."""
    port = free_port()
    argv = python_module_argv("bench.fake_providers", "--format", "openai", "--port", str(port))
    argv += ["--chunk-delay-ms", str(chunk_delay_ms)]
    proc = start_process(name, argv, log_dir=workdir)
    try:
        wait_ready(proc, f"http://{LOOPBACK}:{port}/_stats", timeout_s=30)
        yield proc, port
    finally:
        proc.stop()


# ------------------------------------------------------------------ load
def classify_answer(status: int, raw: bytes, stream: bool) -> str:
    """``ok``, or why the client did not get a whole answer."""
    if status != 200:
        return str(status)
    text = raw.decode(errors="replace")
    if not stream:
        try:
            return "ok" if json.loads(text).get("choices") else "bad_body"
        except (ValueError, AttributeError):
            return "bad_body"
    events = [line[6:] for line in text.splitlines() if line.startswith("data: ")]
    if events[-1:] == ["[DONE]"]:
        return "ok"
    for e in reversed(events):
        with contextlib.suppress(ValueError, AttributeError):
            err = json.loads(e).get("error")
            if err:
                return f"sse:{err.get('code')}"
    return "truncated"


async def run_scenario(
    host: Host, s: Scenario, prefix: str, requests: int, concurrency: int
) -> tuple[Counter[str], list[float]]:
    """Send the load; outcomes by kind, latencies (ms) of the answered requests."""
    url = host.base_url + "/chat/completions"
    outcomes: Counter[str] = Counter()
    lat: list[float] = []
    sem = asyncio.Semaphore(concurrency)

    async def one(session: aiohttp.ClientSession, i: int) -> None:
        stream = s.stream == "stream" or (s.stream == "mixed" and i % 2 == 1)
        body = {
            "model": f"rel-{s.name}",
            "messages": [{"role": "user", "content": f"request {i}: tell me about rivers"}],
            "max_tokens": 8,
            "stream": stream,
        }
        headers = {"x-trace-id": f"{prefix}{i}"}
        if host.api_key:
            headers["Authorization"] = f"Bearer {host.api_key}"
        async with sem:
            t0 = time.perf_counter()
            try:
                async with session.post(url, json=body, headers=headers) as resp:
                    kind = classify_answer(resp.status, await resp.read(), stream)
            except (aiohttp.ClientError, TimeoutError, OSError):
                kind = "conn"
        outcomes[kind] += 1
        if kind == "ok":
            lat.append((time.perf_counter() - t0) * 1000.0)

    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        await asyncio.gather(*(one(session, i) for i in range(requests)))
    return outcomes, lat


def measure(
    host: Host, s: Scenario, ports: tuple[int, int], run_id: str, a: argparse.Namespace
) -> Row:
    """Set the fault, send the load, count the log records: one row."""
    primary, backup = ports
    _control(primary, "/_fault", s.fault)
    before = [_control(p, "/_stats")["requests"] for p in ports]
    prefix = f"rel-{run_id}-{s.name}-"
    outcomes, lat = asyncio.run(run_scenario(host, s, prefix, a.requests, a.concurrency))
    _control(primary, "/_fault", {"mode": "ok"})
    after = [_control(p, "/_stats")["requests"] for p in ports]
    counts = asyncio.run(wait_logged(host, prefix, a.requests, a.log_timeout))
    row = Row(scenario=s.name, stream=s.stream, sent=a.requests)
    row.answered = outcomes.pop("ok", 0)
    row.failed = dict(sorted(outcomes.items()))
    row.logged = len(counts)
    row.logged_once = sum(1 for n in counts.values() if n == 1)
    row.logged_twice = sum(1 for n in counts.values() if n > 1)
    row.primary_calls, row.backup_calls = after[0] - before[0], after[1] - before[1]
    row.p50_ms = percentile(sorted(lat), 50)
    problems = []
    if row.logged_once != row.sent:
        problems.append(f"{row.sent - row.logged} unlogged, {row.logged_twice} logged twice")
    if s.hideable and row.answered != row.sent:
        problems.append("client errors despite a healthy fallback")
    row.verdict = "OK" if not problems else "FAIL: " + "; ".join(problems)
    return row


# ------------------------------------------------------------------ output
def print_table(rows: list[Row]) -> None:
    hdr = (
        f"{'scenario':<17}{'load':<7}{'sent':>5}{'2xx':>6}  {'failed (by status)':<30}"
        f"{'logged':>7}{'once':>6}{'twice':>6}{'primary':>8}{'backup':>7}{'p50 ms':>8}  verdict"
    )
    print(hdr)
    print("-" * len(hdr))
    for r in rows:
        failed = ", ".join(f"{k}: {v}" for k, v in r.failed.items()) or "-"
        p50 = "-" if r.p50_ms != r.p50_ms else f"{r.p50_ms:.1f}"
        print(
            f"{r.scenario:<17}{r.stream:<7}{r.sent:>5}{r.answered:>6}  {failed:<30}"
            f"{r.logged:>7}{r.logged_once:>6}{r.logged_twice:>6}{r.primary_calls:>8}"
            f"{r.backup_calls:>7}{p50:>8}  {r.verdict}"
        )


def _args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.reliability", description=__doc__)
    p.add_argument("--requests", type=int, default=60, help="requests per scenario")
    p.add_argument("--concurrency", type=int, default=8)
    names = ",".join(s.name for s in SCENARIOS)
    p.add_argument("--scenarios", default=names, help=f"comma-separated subset of {names}")
    p.add_argument("--in-process", action="store_true", help="the pipeline without Ray")
    p.add_argument("--workbench-bin", default=None)
    p.add_argument("--log-timeout", type=float, default=30.0, help="s to wait for the log")
    p.add_argument("--json-out", default=None)
    p.add_argument("--keep-tmp", action="store_true")
    a = p.parse_args(argv)
    known = {s.name for s in SCENARIOS}
    chosen = [x.strip() for x in a.scenarios.split(",") if x.strip()]
    unknown = sorted(set(chosen) - known)
    if unknown or not chosen:
        p.error(f"unknown scenarios {unknown}; known: {names}")
    if a.requests < 1 or a.concurrency < 1:
        p.error("--requests and --concurrency must be positive")
    a.chosen = [s for s in SCENARIOS if s.name in chosen]
    return a


def main(argv: list[str] | None = None) -> int:
    a = _args(argv)
    install_uvloop()
    workdir = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    rows: list[Row] = []
    host: Host | None = None
    print(
        f"reliability: {len(a.chosen)} scenarios x {a.requests} requests at concurrency "
        f"{a.concurrency}; load average before: {load_average()}",
        flush=True,
    )
    try:
        with (
            interrupts_raise(),
            fake_upstream("primary", workdir) as (_, p_port),
            fake_upstream("backup", workdir) as (_, b_port),
        ):
            up = f"http://{LOOPBACK}:{{}}/v1"
            models, policy = models_and_policy(a.chosen, up.format(p_port), up.format(b_port))
            try:
                if a.in_process:
                    host = InProcessHost(models, policy)
                else:
                    host = RayHost(models, policy, workdir / "gateway", a.workbench_bin)
            except BenchError as exc:
                print(f"the gateway did not start: {exc}\n(logs kept in {workdir})")
                return 2
            print(f"host: {host.name} at {host.base_url}\n", flush=True)
            run_id = secrets.token_hex(3)
            for s in a.chosen:
                rows.append(measure(host, s, (p_port, b_port), run_id, a))
                print(f"  {s.name}: {rows[-1].verdict}", flush=True)
    except KeyboardInterrupt:
        print("\ninterrupted: stopped all processes", file=sys.stderr)
        return 130
    finally:
        if host is not None:
            host.stop()
        if a.keep_tmp:
            print(f"(configs and process logs kept in {workdir})")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_table(rows)
    print(f"\nload average after: {load_average()}")
    if a.json_out:
        Path(a.json_out).write_text(json.dumps([asdict(r) for r in rows], indent=2))
    return 0 if all(r.verdict == "OK" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
