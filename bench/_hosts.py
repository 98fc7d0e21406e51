"""Where a reliability run sends its requests: our real gateway, or the pipeline in-process.

Both hosts take the gateway's ``models:`` list and one policy (YAML text), serve the
OpenAI API on 127.0.0.1, and count logged records by ``trace_id`` (the load generator
sends a unique ``x-trace-id`` with every request, so even a request that got no answer
can be looked up).

- :class:`RayHost`: ``workbench up`` (real Ray Serve, the LogSink writing Parquet), the
  policy published with ``workbench policy publish``, records counted with
  ``workbench logs query --format json``.
- :class:`InProcessHost`: :func:`workbench.pipeline.build_pipeline` + the FastAPI
  adapter served by uvicorn in a thread (no Ray, no log store: records are kept in a
  list). Fast; what the smoke test runs.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

import yaml

from bench import _gateway
from bench._proc import LOOPBACK, BenchError, free_port, http_get

__all__ = ["Host", "InProcessHost", "RayHost"]


class Host(Protocol):
    """A gateway a benchmark can drive."""

    name: str
    base_url: str  # ends in /v1
    api_key: str | None

    def logged(self, trace_prefix: str) -> Counter[str]:
        """Records per ``trace_id`` among those starting with ``trace_prefix``."""
        ...

    def stop(self) -> None:
        """Stop serving (idempotent)."""
        ...


def _policy_id(policy_yaml: str) -> str:
    data = yaml.safe_load(policy_yaml)
    if not isinstance(data, dict) or not isinstance(data.get("id"), str):
        raise BenchError("the policy needs an id")
    return str(data["id"])


class RayHost:
    """Our gateway as users run it (``workbench up``), with one policy published."""

    name = "gateway (Ray Serve)"

    def __init__(
        self, models: list[dict[str, Any]], policy_yaml: str, workdir: Path, wb: str | None = None
    ) -> None:
        self.gw = _gateway.start_gateway(models, workdir, wb=wb)
        self.base_url: str = self.gw.base_url
        self.api_key: str | None = self.gw.api_key
        self.workdir = workdir
        try:
            self._publish(policy_yaml)
        except BaseException:
            self.gw.stop()
            raise

    def _cli(self, *args: str, timeout: float = 120.0) -> str:
        # the gateway's own config: `policy publish` checks routing targets against it
        env = {**self.gw.env, "WORKBENCH_CONFIG": str(self.gw.config_path)}
        cp = _gateway._run_cli(self.gw.wb, list(args), env, self.workdir, timeout)
        if cp.returncode != 0:
            raise BenchError(f"`workbench {args[0]} {args[1]}` failed: {cp.stderr[-600:]}")
        return cp.stdout

    def _publish(self, policy_yaml: str) -> None:
        path = self.workdir / "policy.yaml"
        path.write_text(policy_yaml)
        self._cli("policy", "publish", str(path), "-m", "bench scenarios")
        wanted = _policy_id(policy_yaml) + "@"
        deadline = time.monotonic() + 30.0
        while time.monotonic() < deadline:
            status, body = http_get(f"http://{LOOPBACK}:{self.gw.port}/health")
            live = _gateway._first_json(body.decode(errors="replace")) if status == 200 else {}
            if any(str(v).startswith(wanted) for v in (live or {}).get("policies_live", [])):
                return
            time.sleep(0.25)
        raise BenchError(f"policy {wanted[:-1]} not live 30 s after publishing")

    def logged(self, trace_prefix: str) -> Counter[str]:
        sql = (
            "select trace_id, count(*) as n from requests "
            f"where trace_id like '{trace_prefix}%' group by trace_id"
        )
        try:
            rows = _gateway._first_json(self._cli("logs", "query", sql, "--format", "json"))
        except BenchError:
            return Counter()  # no log file yet
        return Counter({str(r["trace_id"]): int(r["n"]) for r in rows or []})

    def stop(self) -> None:
        self.gw.stop()


class _FixedPolicies:
    """The PolicyRuntime surface the pipeline reads, over one fixed policy."""

    def __init__(self, policy_yaml: str) -> None:
        from workbench.guardrails.engine import GuardrailEngine
        from workbench.policy.model import Policy, policy_hash

        self.policy = Policy.model_validate(yaml.safe_load(policy_yaml))
        self.engine = GuardrailEngine(
            self.policy, policy_hash=policy_hash(self.policy), version_id=f"{self.policy.id}@1"
        )
        self.engines = {self.engine.version_id: self.engine}

    def for_request(self, workspace: str | None, model: str) -> Any:
        from workbench.policy.resolve import resolve

        return self.engine if resolve([self.policy], workspace or "", model) else None


class InProcessHost:
    """The production pipeline without Ray, behind uvicorn on a loopback port."""

    name = "pipeline in-process (no Ray)"

    def __init__(self, models: list[dict[str, Any]], policy_yaml: str) -> None:
        import uvicorn

        from workbench.config.gateway import parse_config
        from workbench.gateway.app import create_app
        from workbench.pipeline import build_pipeline

        cfg = parse_config({"gateway": {"require_auth": False}, "models": models})
        self.records: list[dict[str, Any]] = []
        pipeline = build_pipeline(
            cfg, submit_record=self.records.append, policies=_FixedPolicies(policy_yaml)
        )
        port = free_port()
        config = uvicorn.Config(
            create_app(pipeline), host=LOOPBACK, port=port, log_level="warning", access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 30.0
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise BenchError("the in-process gateway did not start")
            time.sleep(0.05)
        self.base_url: str = f"http://{LOOPBACK}:{port}/v1"
        self.api_key: str | None = None

    def logged(self, trace_prefix: str) -> Counter[str]:
        return Counter(
            str(r["trace_id"])
            for r in list(self.records)
            if str(r.get("trace_id") or "").startswith(trace_prefix)
        )

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


async def wait_logged(host: Host, prefix: str, expected: int, timeout_s: float) -> Counter[str]:
    """Poll ``host.logged(prefix)`` until ``expected`` distinct ids are there (or timeout)."""
    deadline = time.monotonic() + timeout_s
    counts = await asyncio.to_thread(host.logged, prefix)
    while len(counts) < expected and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        counts = await asyncio.to_thread(host.logged, prefix)
    return counts
