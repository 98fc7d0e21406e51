"""Start our gateway (``workbench up``) for a benchmark, and count its logged requests.

Every failure becomes a ``BenchError`` whose message says what went wrong and where
the log is, so a benchmark can report "gateway leg failed" and go on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bench._proc import (
    LOOPBACK,
    NO_PROXY_ENV,
    BenchError,
    Proc,
    free_port,
    json_status_is,
    start_process,
    wait_ready,
)

UPSTREAM_KEY_ENV = "BENCH_UPSTREAM_KEY"


def workbench_bin(explicit: str | None = None) -> str:
    """The ``workbench`` CLI: explicit path, next to this interpreter, or on PATH."""
    if explicit:
        return explicit
    here = Path(sys.executable).parent / "workbench"
    if here.exists():
        return str(here)
    found = shutil.which("workbench")
    if found:
        return found
    raise BenchError(
        "our gateway: the `workbench` command is not installed in this environment "
        "(pip install -e . in the venv, or pass --workbench-bin)"
    )


@dataclass
class Gateway:
    """A running ``workbench up`` and what a client needs to call it."""

    proc: Proc
    port: int
    api_key: str
    env: dict[str, str]
    config_path: Path
    wb: str
    startup_s: float

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    def stop(self) -> None:
        # `workbench up` is a foreground process: SIGINT is its Ctrl-C (orderly
        # shutdown, flushes the log); then SIGTERM/SIGKILL on the group.
        self.proc.stop(first=signal.SIGINT, grace_s=45.0)


def _run_cli(
    wb: str, args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180.0
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [wb, *args],
            env={**os.environ, **NO_PROXY_ENV, **env},
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BenchError(f"`workbench {' '.join(args)}` did not finish in {timeout:.0f} s") from exc
    except OSError as exc:
        raise BenchError(f"cannot run {wb!r}: {exc}") from exc


def _first_json(text: str) -> Any:
    """The whole output as JSON, else the last line that parses."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None


def create_key(wb: str, env: dict[str, str], cwd: Path, workspace: str = "bench") -> str:
    """``workbench keys create --workspace bench --json`` -> the key."""
    cp = _run_cli(wb, ["keys", "create", "--workspace", workspace, "--json"], env, cwd)
    if cp.returncode != 0:
        raise BenchError(
            f"`workbench keys create` failed (exit {cp.returncode}): "
            f"{(cp.stderr or cp.stdout).strip()[-800:]}"
        )
    obj = _first_json(cp.stdout)
    key = obj.get("key") if isinstance(obj, dict) else None
    if not isinstance(key, str) or not key:
        raise BenchError(f"`workbench keys create --json` printed no 'key': {cp.stdout[-400:]!r}")
    return key


def start_gateway(
    models: list[dict[str, Any]],
    workdir: Path,
    *,
    wb: str | None = None,
    port: int | None = None,
    ready_timeout_s: float = 300.0,
    extra_env: dict[str, str] | None = None,
    gateway: dict[str, Any] | None = None,
    config: dict[str, Any] | None = None,
) -> Gateway:
    """Write the config, create a key, start ``workbench up`` and wait for /health ready.

    ``WORKBENCH_HOME`` is ``workdir/home``; the process log is ``workdir/gateway.log``.
    ``gateway`` adds to the config's ``gateway`` section, ``config`` to its top level.
    """
    wb = workbench_bin(wb)
    port = port or free_port()
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    cfg = {
        "gateway": {"host": LOOPBACK, "port": port, "max_ongoing_requests": 256, **(gateway or {})},
        "logging": {"flush_interval_s": 1.0},
        "models": models,
        **(config or {}),
    }
    cfg_path = workdir / "gateway.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = {
        "WORKBENCH_HOME": str(home),
        UPSTREAM_KEY_ENV: "dummy",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RAY_USAGE_STATS_ENABLED": "0",
        **(extra_env or {}),
    }
    key = create_key(wb, env, workdir)
    up = [wb, "up", "--config", str(cfg_path), "--port", str(port)]
    if _has_option(wb, "up", "--no-dashboard"):  # a benchmark measures the gateway alone
        up.append("--no-dashboard")
    t0 = time.monotonic()
    proc = start_process(
        "gateway",
        up,
        log_dir=workdir,
        env=env,
        cwd=workdir,
    )
    try:
        wait_ready(
            proc,
            f"http://{LOOPBACK}:{port}/health",
            timeout_s=ready_timeout_s,
            ok=lambda s, b: json_status_is(s, b, "status", "ready"),
        )
    except BaseException:
        proc.stop(first=signal.SIGINT, grace_s=20.0)
        raise
    return Gateway(proc, port, key, env, cfg_path, wb, time.monotonic() - t0)


def _parse_count(stdout: str) -> int | None:
    obj = _first_json(stdout)
    while True:
        if isinstance(obj, bool):
            return None
        if isinstance(obj, int | float):
            return int(obj)
        if isinstance(obj, list) and obj:
            obj = obj[0]
        elif isinstance(obj, dict) and obj:
            obj = obj.get("n", obj.get("rows", obj.get("data", next(iter(obj.values())))))
        else:
            break
    nums = re.findall(r"(?<![\w.])\d+(?![\w.])", stdout)
    return int(nums[-1]) if nums else None


def count_logged(gw: Gateway, sql: str = "select count(*) as n from requests") -> int:
    """Rows in the request log, read with ``workbench logs query`` (JSON, else table)."""
    last = ""
    for extra in (["--format", "json"], []):
        cp = _run_cli(gw.wb, ["logs", "query", sql, *extra], gw.env, gw.config_path.parent, 120)
        if cp.returncode == 0:
            n = _parse_count(cp.stdout)
            if n is not None:
                return n
            last = f"unparsable output {cp.stdout[-300:]!r}"
        else:
            last = (cp.stderr or cp.stdout).strip()[-600:]
    raise BenchError(f"`workbench logs query` failed: {last}")


def wait_logged(gw: Gateway, expected: int, settle_s: float = 3.0, timeout_s: float = 20.0) -> int:
    """Wait ``settle_s`` for the flush, then poll the count until it reaches ``expected``."""
    time.sleep(settle_s)
    deadline = time.monotonic() + timeout_s
    n = count_logged(gw)
    while n < expected and time.monotonic() < deadline:
        time.sleep(1.0)
        n = count_logged(gw)
    return n


def _has_option(wb: str, command: str, option: str) -> bool:
    """Whether ``wb command`` (this tree's CLI or an older commit's) takes ``option``."""
    out = subprocess.run([wb, command, "--help"], capture_output=True, text=True, timeout=120)
    return option in out.stdout
