"""Rotation reaches the Ray Serve ingress: the session gateway (``workbench up``, real Ray)
calls its upstream with a workspace's bound credential, and with the new secret after
``workbench credentials rotate``, without a restart.

Starts Ray: run under ``flock /tmp/ray.lock``.
"""

from __future__ import annotations

import json
import subprocess
import time

import httpx
import pytest

from tests.conftest import ROOT, WORKBENCH, Gateway

pytestmark = pytest.mark.slow

SECRET_A = "sk-proj-e2eAAAA1111bbbbCCCC2222dddd3333"
SECRET_B = "sk-proj-e2eBBBB9999yyyyXXXX8888wwww7777"


def _cli(gw: Gateway, *args: str, secret: str | None = None) -> str:
    proc = subprocess.run(
        [*WORKBENCH, "credentials", *args],
        env=gw.env,
        input=secret,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr
    for text in (proc.stdout, proc.stderr):
        assert SECRET_A not in text and SECRET_B not in text
    return proc.stdout


def _auth_seen(gw: Gateway, client: httpx.Client) -> str:
    r = client.post(
        gw.base_url + "/v1/chat/completions",
        headers={"Authorization": f"Bearer {gw.key}"},
        json={"model": "upstream", "messages": [{"role": "user", "content": "hi"}]},
    )
    assert r.status_code == 200, r.text
    stats_url = gw.upstream.base_url.removesuffix("/v1") + "/_stats"
    return str(client.get(stats_url).json()["last_authorization"])


def test_rotation_reaches_the_serve_ingress(gateway: Gateway) -> None:
    cred = json.loads(_cli(gateway, "add", "-n", "e2e", "-p", "openai", "--json", secret=SECRET_A))
    _cli(gateway, "bind", "tests", "upstream", cred["id"])
    try:
        with httpx.Client(timeout=30) as client:
            deadline = time.monotonic() + 30  # the binding, like a rotation, lands within ~1 s
            seen = _auth_seen(gateway, client)
            while seen != f"Bearer {SECRET_A}" and time.monotonic() < deadline:
                time.sleep(0.2)
                seen = _auth_seen(gateway, client)
            assert seen == f"Bearer {SECRET_A}"
            _cli(gateway, "rotate", cred["id"], secret=SECRET_B)
            t0 = time.monotonic()
            while seen != f"Bearer {SECRET_B}" and time.monotonic() < t0 + 30:
                assert seen == f"Bearer {SECRET_A}"  # the old key until the switch, nothing else
                time.sleep(0.1)
                seen = _auth_seen(gateway, client)
            assert seen == f"Bearer {SECRET_B}"
            print(f"rotation seen by the ingress after {time.monotonic() - t0:.2f} s")
    finally:
        _cli(gateway, "unbind", "tests", "upstream")
        _cli(gateway, "delete", cred["id"])
    with httpx.Client(timeout=30) as client:
        deadline = time.monotonic() + 30
        while (seen := _auth_seen(gateway, client)) != "Bearer sk-upstream-test":
            assert time.monotonic() < deadline, seen
            time.sleep(0.2)
