"""Raw HTTP against the gateway: every error is OpenAI-shaped, logged, and never a 500."""

from __future__ import annotations

import json
import random
import time

import httpx
import pytest

pytestmark = pytest.mark.slow

CHAT = "/v1/chat/completions"


@pytest.fixture(scope="module")
def http(gateway):
    with httpx.Client(
        base_url=gateway.base_url, timeout=30, headers={"Authorization": f"Bearer {gateway.key}"}
    ) as c:
        yield c


def _shape(resp: httpx.Response) -> dict:
    body = resp.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"message", "type", "code", "param"}, body
    assert body["error"]["message"]
    return body["error"]


def test_malformed_json_is_400(http):
    r = http.post(
        CHAT,
        content=b'{"model": "echo", "messages": [',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert _shape(r)["code"] == "invalid_json"


@pytest.mark.parametrize("body", [b"", b"[]", b"42", b'"x"', b"null"])
def test_non_object_bodies_are_400(http, body):
    r = http.post(CHAT, content=body)
    assert r.status_code == 400, r.text
    _shape(r)


def test_validation_error_names_param(http):
    r = http.post(CHAT, json={"model": "echo", "messages": [{"role": "wizard", "content": "x"}]})
    assert r.status_code == 422
    assert _shape(r)["param"].startswith("messages.0.role")
    r = http.post(CHAT, json={"messages": [{"role": "user", "content": "x"}]})
    assert r.status_code == 422 and _shape(r)["param"] == "model"


def test_oversized_body_is_413(http):
    big = {"model": "echo", "messages": [{"role": "user", "content": "x" * 70_000}]}
    r = http.post(CHAT, json=big)
    assert r.status_code == 413
    _shape(r)


def test_auth_errors(gateway):
    with httpx.Client(base_url=gateway.base_url, timeout=10) as c:
        body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
        r = c.post(CHAT, json=body)
        assert r.status_code == 401 and _shape(r)["code"] == "missing_api_key"
        r = c.post(CHAT, json=body, headers={"Authorization": "Basic abc"})
        assert r.status_code == 401
        r = c.post(CHAT, json=body, headers={"Authorization": "Bearer " + gateway.key[:-2] + "xx"})
        assert r.status_code == 401 and _shape(r)["type"] == "authentication_error"


def test_revoked_key_is_refused_within_seconds(gateway):
    created = json.loads(gateway.cli("keys", "create", "--workspace", "tests", "--json").stdout)
    headers = {"Authorization": f"Bearer {created['key']}"}
    body = {"model": "echo", "messages": [{"role": "user", "content": "x"}]}
    with httpx.Client(base_url=gateway.base_url, timeout=10, headers=headers) as c:
        assert c.post(CHAT, json=body).status_code == 200
        gateway.cli("keys", "revoke", created["key_id"])
        deadline = time.time() + 5
        status = 200
        while time.time() < deadline and status == 200:
            status = c.post(CHAT, json=body).status_code
            time.sleep(0.2)
        assert status == 401


def test_unknown_route_and_method(http):
    r = http.get("/v1/nothing-here")
    assert r.status_code == 404 and _shape(r)["code"] == "unknown_route"
    r = http.get(CHAT)
    assert r.status_code == 405
    _shape(r)


def test_rejected_requests_are_logged(http, gateway):
    ids = set()
    for body in (
        b"{",
        json.dumps({"model": "nope", "messages": [{"role": "user", "content": "x"}]}).encode(),
    ):
        r = http.post(CHAT, content=body)
        assert r.status_code in (400, 404)
        ids.add(r.headers["x-workbench-request-id"])
    with httpx.Client(base_url=gateway.base_url, timeout=10) as anon:
        r = anon.post(CHAT, json={"model": "echo"})
        ids.add(r.headers["x-workbench-request-id"])
    rows = gateway.wait_logged(ids)
    assert set(rows) == ids
    assert {r["status"] for r in rows.values()} == {"rejected"}
    assert all(r["error_type"] and r["error_message"] for r in rows.values())


def test_garbage_never_produces_5xx(http):
    rng = random.Random(1234)
    pieces = [
        b"{",
        b"}",
        b"[",
        b"]",
        b'"model"',
        b":",
        b",",
        b'"messages"',
        b"null",
        b"1e999",
        b'"\\ud800"',
        b"\xff\xfe",
        b'{"role":"user"}',
        b"true",
        b'"echo"',
        b"-0",
    ]
    for _ in range(150):
        body = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 12)))
        for path in (CHAT, "/v1/completions", "/v1/embeddings"):
            r = http.post(path, content=body)
            assert r.status_code < 500, (path, body, r.text)
            _shape(r)


def test_health_and_metrics(gateway):
    with httpx.Client(base_url=gateway.base_url, timeout=10) as c:
        h = c.get("/health").json()
        assert h["status"] == "ready" and "echo" in h["models"]
        assert c.get("/health/live").status_code == 200
        m = c.get("/metrics").text
        assert "workbench_requests_total" in m and "workbench_request_latency_seconds" in m
