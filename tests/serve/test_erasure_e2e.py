"""Erasure against the running gateway (real Ray Serve, real LogSink, real lake): requests
with ``user="erase-me"`` are erased through the admin REST API and then the CLI, both
handing the job to the LogSink, which rewrites the lake between flushes."""

from __future__ import annotations

import json

import httpx

from workbench.logstore import query


def _send(gateway, user: str, n: int) -> list[str]:
    ids = []
    headers = {"Authorization": f"Bearer {gateway.key}"}
    for i in range(n):
        r = httpx.post(
            gateway.base_url + "/v1/chat/completions",
            headers=headers,
            json={"model": "echo", "user": user, "messages": [{"role": "user", "content": f"{i}"}]},
            timeout=60,
        )
        assert r.status_code == 200, r.text
        ids.append(r.headers["x-workbench-request-id"])
    return ids


def _count(gateway, where: str) -> int:
    df = query(f"select count(*) as n from requests where {where}", root=gateway.home / "logs")
    return int(df["n"][0])


def test_erase_user_through_the_running_gateway(gateway) -> None:
    erased = _send(gateway, "erase-me", 6)
    kept = _send(gateway, "keep-me", 4)
    assert len(gateway.wait_logged(set(erased + kept), timeout=60)) == 10
    admin = json.loads(
        gateway.cli(
            "keys", "create", "--workspace", "tests", "--name", "eraser", "--role", "admin",
            "--json",
        ).stdout
    )["key"]  # fmt: skip

    r = httpx.post(
        gateway.base_url + "/admin/v1/data/erasure",
        headers={"Authorization": f"Bearer {admin}"},
        json={"user": "erase-me", "workspace": "tests"},
        timeout=300,
    )
    assert r.status_code == 200, r.text
    assert r.json()["rows_removed"] == 6
    assert _count(gateway, "\"user\" = 'erase-me'") == 0
    ids = ",".join(f"'{i}'" for i in kept)
    assert _count(gateway, f"request_id in ({ids})") == 4  # the other requests remain

    more = _send(gateway, "erase-me", 2)  # logged after the first erasure
    assert len(gateway.wait_logged(set(more), timeout=60)) == 2
    out = gateway.cli("data", "erase", "--user", "erase-me", "--json")
    assert json.loads(out.stdout)["rows_removed"] == 2
    assert _count(gateway, "\"user\" = 'erase-me'") == 0
    assert _count(gateway, f"request_id in ({ids})") == 4

    r = httpx.get(
        gateway.base_url + "/admin/v1/audit",
        headers={"Authorization": f"Bearer {admin}"},
        params={"action": "data.erase"},
        timeout=30,
    )
    entries = r.json()["data"]
    assert [e["after"]["rows_removed"] for e in entries] == [6, 2]
    assert entries[0]["source"].startswith("api:") and entries[1]["source"] == "cli"
    assert gateway.cli("audit", "verify").returncode == 0
