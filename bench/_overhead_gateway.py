"""Our gateway's legs of ``bench.gateway_overhead``: which trees, which policy, in what order.

A *variant* is one gateway start: a tree (``after``: this checkout; ``before``: an older
commit run by :mod:`bench._before`) and a policy (``none``: nothing published;
``default``: ``policies/default.yaml`` of that tree published before ``workbench up``,
so its ML checks run through the real guardrail-scorer hop from the first request).
Variants run one at a time; before/after pairs alternate their order per policy
(before, after, after, before, ...) so that a machine whose load drifts during the run
does not favour one side.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import _gateway
from bench._before import REPO, Tree
from bench._proc import LOOPBACK, BenchError, Proc, http_get
from bench.ttft import measure_ttft

# No PYTHONPATH from the caller: it could put this checkout in front of the old tree.
CLEAN_ENV = {"PYTHONPATH": ""}


@dataclass(frozen=True)
class Variant:
    """One gateway start."""

    tree: str  # "after" | "before"
    policy: str  # "none" | "default"
    wb: str | None  # the workbench CLI (None: this environment's)
    root: Path  # the tree, for its policies/default.yaml
    policy_file: Path | None = None  # publish this instead of the tree's default.yaml

    @property
    def name(self) -> str:
        return f"{self.tree}/{self.policy}"


def variants(
    policies: list[str],
    before: Tree | None,
    wb: str | None,
    after_tree: Tree | None = None,
    after_policy: Path | None = None,
) -> list[Variant]:
    """The gateway starts of a run, in order (``after_tree``: a commit instead of this
    checkout for the after side; ``after_policy``: the policy file the after side
    publishes in its ``default`` leg instead of its own ``policies/default.yaml``)."""
    out = []
    for i, pol in enumerate(policies):
        after = Variant("after", pol, wb, REPO, after_policy)
        if after_tree is not None:
            after = Variant(
                "after", pol, str(after_tree.workbench), after_tree.root, after_policy
            )
        if before is None:
            out.append(after)
            continue
        old = Variant("before", pol, str(before.workbench), before.root)
        out += [old, after] if i % 2 == 0 else [after, old]
    return out


def publish_default(v: Variant, gdir: Path) -> None:
    """Publish the tree's ``policies/default.yaml`` into the gateway's home."""
    home = gdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    env = {"WORKBENCH_HOME": str(home), **CLEAN_ENV}
    path = v.policy_file or v.root / "policies" / "default.yaml"
    cp = _gateway._run_cli(
        _gateway.workbench_bin(v.wb), ["policy", "publish", str(path), "-m", "bench"], env, gdir
    )
    if cp.returncode != 0:
        raise BenchError(f"{v.name}: policy publish failed: {(cp.stderr or cp.stdout)[-600:]}")


def wait_policy_live(gw: _gateway.Gateway, policy_id: str, timeout_s: float = 60.0) -> None:
    """Until ``/health`` lists the policy among the live ones."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status, body = http_get(f"http://{LOOPBACK}:{gw.port}/health")
        health = _gateway._first_json(body.decode(errors="replace")) if status == 200 else None
        live = health.get("policies_live", []) if isinstance(health, dict) else []
        if any(str(x).startswith(policy_id + "@") for x in live):
            return
        time.sleep(0.5)
    raise BenchError(f"policy {policy_id} not live {timeout_s:.0f} s after the gateway started")


def _models(up_port: int, words_port: int | None) -> list[dict[str, Any]]:
    remote = {"provider": "openai-compatible", "api_key_env": _gateway.UPSTREAM_KEY_ENV}
    models = [
        {
            "name": "fake-upstream",
            **remote,
            "base_url": f"http://{LOOPBACK}:{up_port}/v1",
            "model": "fake-model",
        }
    ]
    if words_port is not None:
        url = f"http://{LOOPBACK}:{words_port}/v1"
        models.append({"name": "fake-words", **remote, "base_url": url, "model": "fake-model"})
    return models


def start_with_retry(
    a: argparse.Namespace, models: list[dict[str, Any]], gdir: Path, v: Variant
) -> _gateway.Gateway:
    """``workbench up``; one more try when the first start fails (said, not hidden: on a
    busy machine Serve's proxy actor can miss its first health checks)."""
    try:
        return _gateway.start_gateway(
            models, gdir, wb=v.wb, ready_timeout_s=a.start_timeout, extra_env=CLEAN_ENV
        )
    except BenchError as exc:
        print(f"  {v.name}: start attempt 1 failed, trying once more: {str(exc)[-1500:]}")
    return _gateway.start_gateway(
        models, gdir, wb=v.wb, ready_timeout_s=a.start_timeout, extra_env=CLEAN_ENV
    )


@dataclass
class LegTarget:
    """What ``run_target`` of gateway_overhead needs (its Target's fields)."""

    name: str
    base_url: str
    model: str
    api_key: str | None
    proc: Proc
    note: str
    idle_cpu_rate: float = 0.0


def gateway_leg(
    a: argparse.Namespace,
    workdir: Path,
    ports: tuple[int, int | None],
    up: Proc,
    run_target: Callable[[Any, Proc], int],
    v: Variant,
) -> dict[str, Any]:
    """Start the variant's gateway, run the load levels, TTFT, check the log; a summary."""
    up_port, words_port = ports
    gdir = workdir / v.name.replace("/", "-")
    gdir.mkdir(parents=True)
    if v.policy == "default":
        publish_default(v, gdir)
    gw = start_with_retry(a, _models(up_port, words_port), gdir, v)
    try:
        if v.policy == "default":
            wait_policy_live(gw, "default")
        note = f"{v.name}: started in {gw.startup_s:.1f} s"
        t = LegTarget(v.name, gw.base_url, "fake-upstream", gw.api_key, gw.proc, note)
        sent = run_target(t, up)
        out: dict[str, Any] = {"variant": v.name}
        if words_port is not None and a.ttft_streams > 0:
            res = asyncio.run(
                measure_ttft(
                    gw.base_url,
                    model="fake-words",
                    api_key=gw.api_key,
                    streams=a.ttft_streams,
                    words=a.ttft_words,
                )
            )
            out["ttft"] = res.as_dict()
            sent += a.ttft_streams
        print(f"  waiting for the log flush, then counting rows ({sent} requests sent)...")
        logged = _gateway.wait_logged(gw, sent)
        out.update(sent=sent, logged=logged)
        out["verdict"] = "OK, every request logged" if logged == sent else "MISMATCH"
        if v.policy != "none":
            # the record's policy_id is the live version, e.g. "default@3"
            sql = (
                "select count(*) as n from requests "
                "where policy_id = 'default' or policy_id like 'default@%'"
            )
            out["under_policy"] = _gateway.count_logged(gw, sql)
        return out
    finally:
        gw.stop()
