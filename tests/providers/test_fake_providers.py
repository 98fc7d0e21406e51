"""The fake providers' own API: fault switch, counters, last request, thread and CLI forms."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bench.fake_providers import FORMATS, FakeProviderThread, running_fake

ROOT = Path(__file__).resolve().parents[2]
CHAT = {
    "openai": ("/chat/completions", {"model": "m", "messages": [
        {"role": "user", "content": "hi"}]}),
    "anthropic": (
        "/v1/messages",
        {"model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]},
    ),
    "gemini": ("/v1beta/models/m:generateContent", {"contents": [
        {"role": "user", "parts": [{"text": "hi"}]}]}),
    "cohere": ("/v2/chat", {"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
    "azure": ("/openai/deployments/d/chat/completions?api-version=1",
              {"messages": [{"role": "user", "content": "hi"}]}),
}  # fmt: skip
HEADERS = {"anthropic-version": "2023-06-01"}


def _post(url: str, body: Any) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode()
    rq = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                                         **HEADERS})  # fmt: skip
    try:
        with urllib.request.urlopen(rq, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"null")


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("fmt", FORMATS)
def test_fault_switch_over_http_from_sync_code(fmt: str):
    with FakeProviderThread(fmt) as fake:
        root = f"http://127.0.0.1:{fake.port}"
        path, body = CHAT[fmt]
        url = fake.base_url + path
        status, _, answer = _post(url, body)
        assert status == 200 and answer
        fault = {"mode": "429", "retry_after": 1.5, "retry_after_ms": 200, "count": 2}
        assert _post(root + "/_fault", fault)[0] == 200
        for _ in range(2):
            status, headers, err = _post(url, body)
            assert status == 429
            assert headers["Retry-After"] == "1.5" and headers["retry-after-ms"] == "200"
            assert "fake 429 error" in json.dumps(err)
        assert _post(url, body)[0] == 200  # count exhausted: back to ok
        stats = _get(root + "/_stats")
        assert stats["format"] == fmt and stats["requests"] == 4
        assert stats["faults"] == {"ok": 2, "429": 2}
        last = _get(root + "/_last")
        assert last["method"] == "POST" and last["body"] == body
        assert fake.stats()["requests"] == 4


def test_bad_fault_is_refused():
    with FakeProviderThread("cohere") as fake:
        root = f"http://127.0.0.1:{fake.port}"
        for bad in ({"mode": "explode"}, {"mode": "200"}, {"count": 0}, {"colour": "red"}, [1]):
            status, _, err = _post(root + "/_fault", bad)
            assert status == 400 and err["error"]
        assert fake.stats()["fault"]["mode"] == "ok"


async def test_fakes_reject_what_the_real_apis_reject():
    async with running_fake("anthropic") as fake, aiohttp.ClientSession() as s:
        no_max = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        async with s.post(fake.base_url + "/v1/messages", json=no_max, headers=HEADERS) as r:
            assert r.status == 400
            assert (await r.json())["error"]["type"] == "invalid_request_error"
        async with s.post(fake.base_url + "/v1/messages", json={**no_max, "max_tokens": 3}) as r:
            assert r.status == 400  # no anthropic-version header
    async with running_fake("azure") as fake, aiohttp.ClientSession() as s:
        url = fake.base_url + "/openai/deployments/d/chat/completions"
        async with s.post(url, json=CHAT["azure"][1]) as r:
            assert r.status == 404  # no api-version


async def test_set_fault_in_process_and_message_template():
    async with running_fake("gemini") as fake, aiohttp.ClientSession() as s:
        fake.set_fault(mode="403", message="key {key} refused at {url}", count=1)
        path, body = CHAT["gemini"]
        headers = {"x-goog-api-key": "AIza-test-key"}
        async with s.post(fake.base_url + path, json=body, headers=headers) as r:
            err = await r.json()
        assert r.status == 403 and err["error"]["status"] == "PERMISSION_DENIED"
        assert "AIza-test-key" in err["error"]["message"]
        assert fake.base_url in err["error"]["message"]
        assert fake.stats["faults"] == {"403": 1}


def test_command_line_server_prints_ready_and_serves():
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.fake_providers", "--format", "cohere", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("READY port=")
        base = line.split("base_url=")[1].strip()
        status, _, answer = _post(base + "/v2/chat", CHAT["cohere"][1])
        assert status == 200 and answer["finish_reason"] == "COMPLETE"
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
