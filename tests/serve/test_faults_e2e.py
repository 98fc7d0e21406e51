"""Faults through the real gateway (Ray Serve, real HTTP, real log files).

A bounded load (150 requests, 8 at a time, streamed and not) against a route whose
primary upstream fails (HTTP 500, and in a second run: nothing listening) with a healthy
fallback: no client sees an error, and every request id is in the log exactly once.
Routing comes from a published policy that applies only to this test's route names,
unpublished at the end.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, WORKBENCH
from workbench.logstore import query

pytestmark = pytest.mark.slow

POLICY_ID = "fault-e2e"
POLICY = f"""
id: {POLICY_ID}
applies_to: {{workspaces: ["tests"], models: ["fault-route", "fault-down-route"]}}
routing:
  routes:
    fault-route: {{mode: fallback, targets: [fault-a, fault-b]}}
    fault-down-route: {{mode: fallback, targets: [fault-down, fault-b]}}
  retry: {{attempts: 1, backoff_base_ms: 5}}
  circuit_breaker: {{failure_threshold: 20, cooldown_s: 0.5}}
"""
CHAT = [{"role": "user", "content": "tell me about the fault lines"}]


def _live(gateway: Any) -> list[str]:
    return list(httpx.get(gateway.base_url + "/health", timeout=5).json().get("policies_live", []))


def _wait(gateway: Any, live: bool, timeout: float = 20.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if any(v.startswith(POLICY_ID + "@") for v in _live(gateway)) == live:
            return
        time.sleep(0.2)
    raise AssertionError(f"{POLICY_ID} live={not live} after {timeout}s: {_live(gateway)}")


def _cli(gateway: Any, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI with the session gateway's config (routing targets are checked against it)."""
    env = {**gateway.env, "WORKBENCH_CONFIG": str(gateway.home / "gateway.yaml")}
    return subprocess.run(
        [*WORKBENCH, *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


@pytest.fixture(scope="module")
def fault_policy(gateway: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    path = tmp_path_factory.mktemp("faultpol") / f"{POLICY_ID}.yaml"
    path.write_text(POLICY)
    out = _cli(gateway, "policy", "publish", str(path), "-m", "fault e2e routing")
    assert out.returncode == 0, out.stderr
    _wait(gateway, live=True)
    try:
        yield
    finally:
        gateway.fakes["fault-a"].set_fault(mode="ok")
        _cli(gateway, "policy", "unpublish", POLICY_ID, "-m", "fault e2e done")
        _wait(gateway, live=False)


async def _load(gateway: Any, model: str, n: int, concurrency: int) -> list[dict[str, Any]]:
    """``n`` chat requests (odd ones streamed), ``concurrency`` at a time."""
    sem = asyncio.Semaphore(concurrency)
    headers = {"Authorization": f"Bearer {gateway.key}"}

    async def one(client: httpx.AsyncClient, i: int) -> dict[str, Any]:
        stream = i % 2 == 1
        body = {"model": model, "messages": CHAT, "max_tokens": 8, "stream": stream}
        async with sem:
            try:
                r = await client.post("/v1/chat/completions", json=body, headers=headers)
            except httpx.HTTPError as exc:
                return {"i": i, "ok": False, "why": f"{type(exc).__name__}: {exc}"}
        events = [x[6:] for x in r.text.splitlines() if x.startswith("data: ")]
        complete = r.status_code == 200 and (not stream or events[-1:] == ["[DONE]"])
        return {
            "i": i,
            "ok": complete,
            "why": f"{r.status_code} {r.text[-300:]}",
            "id": r.headers.get("x-workbench-request-id"),
            "target": r.headers.get("x-workbench-target"),
        }

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=gateway.base_url, timeout=60, limits=limits, trust_env=False
    ) as client:
        return list(await asyncio.gather(*(one(client, i) for i in range(n))))


def _check_logged_once(gateway: Any, results: list[dict[str, Any]]) -> dict[str, dict]:
    ids = {r["id"] for r in results}
    assert None not in ids and len(ids) == len(results)
    rows = gateway.wait_logged(ids, timeout=30)
    assert set(rows) == ids, f"{len(ids - set(rows))} requests not logged"
    in_list = ",".join(f"'{i}'" for i in ids)
    dupes = query(
        "select request_id, count(*) as n from requests "
        f"where request_id in ({in_list}) group by request_id having count(*) > 1",
        root=gateway.home / "logs",
    )
    assert dupes.height == 0, dupes.to_dicts()[:5]
    return rows


@pytest.mark.usefixtures("fault_policy")
def test_failing_primary_under_load_no_client_errors(gateway: Any) -> None:
    primary, backup = gateway.fakes["fault-a"], gateway.fakes["fault-b"]
    primary.set_fault(mode="500")
    before_a, before_b = primary.stats()["requests"], backup.stats()["requests"]
    results = asyncio.run(_load(gateway, "fault-route", 150, 8))
    bad = [r for r in results if not r["ok"]]
    assert not bad, bad[:3]  # client-visible error rate: 0
    assert {r["target"] for r in results} == {"fault-b"}
    rows = _check_logged_once(gateway, results)
    assert {row["status"] for row in rows.values()} == {"ok"}
    assert {row["target"] for row in rows.values()} == {"fault-b"}
    attempts = [json.loads(row["routing_attempts"]) for row in rows.values()]
    tried = [a for per in attempts for a in per if a["target"] == "fault-a"]
    assert any(a["status"] == "upstream_error" and a["http_status"] == 500 for a in tried)
    assert any(a["reason"] == "retry" for a in tried)  # retries counted in the record
    assert any(a["status"] == "skipped" for a in tried)  # the breaker opened
    calls_a = primary.stats()["requests"] - before_a
    assert 0 < calls_a < 150  # the breaker spared the failing upstream most of the load
    assert backup.stats()["requests"] - before_b == 150


@pytest.mark.usefixtures("fault_policy")
def test_primary_down_under_load_no_client_errors(gateway: Any) -> None:
    results = asyncio.run(_load(gateway, "fault-down-route", 60, 8))
    bad = [r for r in results if not r["ok"]]
    assert not bad, bad[:3]
    rows = _check_logged_once(gateway, results)
    assert {row["target"] for row in rows.values()} == {"fault-b"}
    statuses = {
        a["status"]
        for row in rows.values()
        for a in json.loads(row["routing_attempts"])
        if a["target"] == "fault-down"
    }
    assert "upstream_unreachable" in statuses
