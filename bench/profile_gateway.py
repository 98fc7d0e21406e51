"""Where the gateway's time goes: py-spy samples of each process under load.

``python -m bench.profile_gateway [--concurrency 8] [--requests 3000] [--delay-ms 20]
[--policy policies/default.yaml]``

Starts the fake upstream and our gateway (logging on, one remote target), then runs a
bounded load while ``py-spy record --format raw`` samples the Gateway ingress replica,
the LogSink replica and (with ``--policy``) the guardrail scorer. Prints CPU ms per
request for each process (from /proc), the share of samples by category (the innermost
frame that belongs to a known category decides) and the project's own functions where
the samples land (innermost ``workbench/`` or ``serve/`` frame). Needs py-spy (shipped with ray's
deps) and ptrace rights (root here).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._before import before_tree
from bench._gateway import _run_cli, start_gateway, wait_logged, workbench_bin
from bench._proc import _proc_stat, load_average
from bench.gateway_overhead import upstream_proc
from bench.loadgen import run_load_sync

# (category, substrings of a frame's "function (file:line)"), checked leaf first.
CATEGORIES: list[tuple[str, tuple[str, ...]]] = [
    ("auth (keys)", ("workbench/keys/",)),
    (
        "log shipping (records -> LogSink)",
        ("workbench/gateway/shipping.py", "workbench/pipeline/context.py", "send (serve/"),
    ),
    ("metrics", ("prometheus_client", "workbench/gateway/metrics.py")),
    (
        "JSON + request validation",
        (
            "orjson",
            "pydantic",
            "workbench/gateway/api.py",
            "workbench/gateway/responses.py",
            "json/",
        ),
    ),
    ("upstream HTTP client (aiohttp)", ("aiohttp/", "workbench/providers/openai_compat.py")),
    ("our pipeline (app.py)", ("workbench/gateway/app.py",)),
    ("ASGI framework (starlette/fastapi)", ("starlette/", "fastapi/")),
    ("Ray Serve replica + handles", ("ray/serve/", "ray/_private/", "ray/_raylet", "grpc")),
    ("event loop / other", ("",)),
]


def _category(stack: str) -> str:
    frames = stack.split(";")
    for frame in reversed(frames):
        for name, needles in CATEGORIES[:-1]:
            if any(n in frame for n in needles):
                return name
    return CATEGORIES[-1][0]


def _pids_by_title() -> dict[str, list[int]]:
    out = subprocess.run(["ps", "-eo", "pid=,args="], capture_output=True, text=True).stdout
    found: dict[str, list[int]] = collections.defaultdict(list)
    for line in out.splitlines():
        pid_s, _, args = line.strip().partition(" ")
        for key in (
            "ServeReplica:gateway:Gateway",
            "ServeReplica:gateway:LogSink",
            "ServeReplica:gateway:GuardrailScorer",
            "ProxyActor",
            "haproxy",
            "HAProxyManager",
            "ServeController",
            "raylet",
            "gcs_server",
        ):
            if key in args:
                found[key].append(int(pid_s))
    return found


def _cpu(pid: int) -> float:
    st = _proc_stat(pid)
    return st[1] if st is not None else 0.0


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m bench.profile_gateway")
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--requests", type=int, default=3000)
    p.add_argument("--delay-ms", type=float, default=20.0)
    p.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    p.add_argument("--policy", default=None, help="publish this policy before the start")
    p.add_argument(
        "--rev", default=None, help="profile commit REV's gateway (its own throwaway venv)"
    )
    a = p.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    print(
        f"profile: c={a.concurrency} n={a.requests} upstream delay {a.delay_ms} ms; "
        f"load average {load_average()} (2 cores shared by everything)"
    )
    with tempfile.TemporaryDirectory(prefix="wb-prof-") as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        wb = None
        if a.rev:
            tree = stack.enter_context(before_tree(a.rev, work, "rev"))
            wb = str(tree.workbench)
            print(f"gateway of {tree.rev[:12]} ({tree.root})")
        with upstream_proc(work, a.delay_ms) as (_, up_port):
            if a.policy:
                _publish(Path(a.policy).resolve(), work, wb)
            gw = start_gateway(
                [
                    {
                        "name": "fake-model",
                        "provider": "openai-compatible",
                        "base_url": f"http://127.0.0.1:{up_port}/v1",
                        "model": "fake-model",
                        "api_key_env": "BENCH_UPSTREAM_KEY",
                    }
                ],
                work,
                wb=wb,
            )
            try:
                run_load_sync(
                    gw.base_url,
                    concurrency=a.concurrency,
                    requests=200,
                    warmup=0,
                    api_key=gw.api_key,
                )  # warm up
                pids = _pids_by_title()
                ingress = pids["ServeReplica:gateway:Gateway"][0]
                spies = []
                targets = [
                    ("ingress", ingress),
                    ("logsink", pids["ServeReplica:gateway:LogSink"][0]),
                ]
                scorer = pids.get("ServeReplica:gateway:GuardrailScorer")
                if scorer:
                    targets.append(("scorer", scorer[0]))
                for name, pid in targets:
                    out = work / f"{name}.txt"
                    spies.append(
                        (
                            name,
                            out,
                            subprocess.Popen(
                                [
                                    spy,
                                    "record",
                                    "--format",
                                    "raw",
                                    "--rate",
                                    str(a.rate),
                                    "--nonblocking",
                                    "-p",
                                    str(pid),
                                    "-o",
                                    str(out),
                                ],
                                stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL,
                            ),
                        )
                    )
                time.sleep(1.0)
                watched = {k: v for k, v in pids.items() if v}
                before = {k: sum(_cpu(x) for x in v) for k, v in watched.items()}
                res = run_load_sync(
                    gw.base_url,
                    concurrency=a.concurrency,
                    requests=a.requests,
                    warmup=0,
                    api_key=gw.api_key,
                )
                after = {k: sum(_cpu(x) for x in v) for k, v in watched.items()}
                for _, _, proc in spies:
                    proc.send_signal(2)
                for _, _, proc in spies:
                    proc.wait(timeout=30)
                logged = wait_logged(gw, 200 + a.requests)
            finally:
                gw.stop()
        _report(a, res, logged, watched, before, after, spies)


def _publish(policy: Path, work: Path, wb: str | None) -> None:
    home = work / "home"
    home.mkdir(parents=True, exist_ok=True)
    cp = _run_cli(
        workbench_bin(wb), ["policy", "publish", str(policy), "-m", "profile"],
        {"WORKBENCH_HOME": str(home)}, work,
    )  # fmt: skip
    if cp.returncode != 0:
        raise SystemExit(f"policy publish failed: {(cp.stderr or cp.stdout)[-400:]}")


def _own_frame(stack: str) -> str:
    """The innermost frame of the project's own code (workbench/ or serve/)."""
    for frame in reversed(stack.split(";")):
        if "workbench/" in frame or ("serve/" in frame and "ray/serve" not in frame):
            return frame.strip()
    return "(not in project code)"


def _report(a, res, logged, watched, before, after, spies) -> None:
    print(
        f"load: p50 {res.p50_ms:.2f} ms, p99 {res.p99_ms:.2f} ms, {res.rps:.0f} req/s, "
        f"errors {res.errors}; rows logged {logged} of {200 + a.requests}"
    )
    print("\nCPU ms per request by process (user+sys from /proc):")
    for k in sorted(watched, key=lambda k: -(after[k] - before[k])):
        print(f"  {k:32s} {1000 * (after[k] - before[k]) / a.requests:7.3f}")
    for name, out, _ in spies:
        counts: collections.Counter[str] = collections.Counter()
        total = 0
        if out.exists():
            for line in out.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                if n.isdigit():
                    counts[_category(stack)] += int(n)
                    total += int(n)
        print(f"\n{name}: {total} samples (threads on CPU or waiting), share by category")
        for cat, n in counts.most_common():
            print(f"  {cat:40s} {100 * n / max(1, total):5.1f}%")
        own: collections.Counter[str] = collections.Counter()
        if out.exists():
            for line in out.read_text().splitlines():
                stack, _, n = line.rpartition(" ")
                if n.isdigit():
                    own[_own_frame(stack)] += int(n)
        print(f"{name}: innermost project frame, top 15")
        for frame, n in own.most_common(15):
            print(f"  {100 * n / max(1, total):5.1f}%  {frame[:110]}")


if __name__ == "__main__":
    main()
