"""The non-gateway legs of ``bench.gateway_overhead``: the fake upstream, the floor
(``bench.passthrough``) and LiteLLM's proxy, each a subprocess on 127.0.0.1."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench._proc import (
    LOOPBACK,
    BenchError,
    Proc,
    free_port,
    python_module_argv,
    start_process,
    wait_ready,
)

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
