"""Smoke test of the benchmark tools: the fake upstream speaks OpenAI's wire format
(checked with the official ``openai`` SDK) and the load generator runs against it; the
reliability report (in-process, tiny counts), the overhead benchmark's direct leg with
TTFT, its before/after verdict and the before-tree environment work.

Quick (a few seconds), loopback only, no timing assertions.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import openai
import pytest

from bench.fake_upstream import FakeUpstreamThread
from bench.loadgen import run_load


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstreamThread]:
    with FakeUpstreamThread(delay_ms=2) as up:
        yield up


@pytest.fixture
def client(upstream: FakeUpstreamThread) -> Iterator[openai.OpenAI]:
    # loopback: never through a proxy from the environment
    http = openai.DefaultHttpxClient(trust_env=False, timeout=10)
    c = openai.OpenAI(
        base_url=upstream.base_url, api_key="sk-fake", http_client=http, max_retries=0
    )
    try:
        yield c
    finally:
        c.close()


def test_chat_non_streaming(client: openai.OpenAI) -> None:
    r = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "hello there"}],
        max_tokens=5,
    )
    assert r.object == "chat.completion"
    assert r.id.startswith("chatcmpl-")
    assert r.model == "fake-model"
    assert r.choices[0].message.role == "assistant"
    assert r.choices[0].message.content is not None
    assert len(r.choices[0].message.content.split()) == 5
    assert r.choices[0].finish_reason == "length"
    assert r.usage is not None
    assert r.usage.completion_tokens == 5
    assert r.usage.total_tokens == r.usage.prompt_tokens + 5


def test_chat_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model="fake-model",
        messages=[{"role": "user", "content": "stream please"}],
        max_tokens=4,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    assert len({c.id for c in chunks}) == 1
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert len(text.split()) == 4
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "length" and not any(finishes[:-1])
    # the last chunk carries the usage and no choices; the others have usage None
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == 4
    assert all(c.usage is None for c in chunks[:-1])


def test_chat_streaming_without_usage(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(
            model="fake-model",
            messages=[{"role": "user", "content": "hi"}],
            max_tokens=2,
            stream=True,
        )
    )
    assert all(c.choices for c in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"


def test_legacy_completions_and_models(client: openai.OpenAI) -> None:
    r = client.completions.create(model="fake-model", prompt="say something", max_tokens=3)
    assert r.object == "text_completion"
    assert len(r.choices[0].text.split()) == 3
    assert r.usage is not None and r.usage.completion_tokens == 3
    streamed = list(
        client.completions.create(model="fake-model", prompt="x", max_tokens=3, stream=True)
    )
    assert "".join(c.choices[0].text for c in streamed).split() == r.choices[0].text.split()
    assert "fake-model" in {m.id for m in client.models.list()}


def test_bad_request_is_an_openai_error(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="fake-model", messages=[])


def test_loadgen_runs_against_fake(upstream: FakeUpstreamThread) -> None:
    res = asyncio.run(run_load(upstream.base_url, concurrency=4, requests=20, warmup=4))
    assert res.errors == 0, res.error_samples
    assert res.ok == 20 and res.requests == 20 and res.sent_total == 24
    assert res.completion_tokens == 20 * 16
    assert res.p50_ms > 0 and res.p99_ms >= res.p50_ms and res.rps > 0


# ------------------------------------------------------------------ reliability, overhead, TTFT
def test_reliability_in_process_tiny(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import reliability

    monkeypatch.setattr(reliability, "install_uvloop", lambda: False)  # keep pytest's loop
    out = tmp_path / "rel.json"
    argv = ["--in-process", "--requests", "4", "--concurrency", "2", "--json-out", str(out)]
    argv += ["--scenarios", "healthy,primary-500,drop-mid-stream"]
    assert reliability.main(argv) == 0
    rows = {r["scenario"]: r for r in json.loads(out.read_text())}
    assert set(rows) == {"healthy", "primary-500", "drop-mid-stream"}
    for r in rows.values():
        assert r["sent"] == r["logged"] == r["logged_once"] == 4 and r["logged_twice"] == 0
    assert rows["healthy"]["answered"] == 4 and rows["healthy"]["backup_calls"] == 0
    assert rows["primary-500"]["answered"] == 4 and rows["primary-500"]["backup_calls"] == 4
    # a drop after the first streamed byte cannot fall back: the client sees an SSE error
    assert rows["drop-mid-stream"]["failed"] == {"sse:upstream_stream_broken": 4}


def test_reliability_rejects_unknown_scenarios() -> None:
    from bench import reliability

    with pytest.raises(SystemExit):
        reliability.main(["--scenarios", "healthy,nope"])


def test_ttft_counts_text_events() -> None:
    from bench.fake_providers import FakeProviderThread
    from bench.ttft import measure_ttft, prompt

    assert "." not in prompt(50) and len(prompt(50).split()) == 50
    with FakeProviderThread("openai", chunk_delay_ms=2) as fake:
        r = asyncio.run(measure_ttft(fake.base_url, model="m", streams=2, words=12))
    assert r.ok == 2 and not r.errors
    assert r.text_events_p50 == 12  # one word per event, straight from the upstream
    assert 0 < r.ttft_p50_ms <= r.total_p50_ms


def test_overhead_direct_leg_and_ttft(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bench import gateway_overhead

    monkeypatch.setattr(gateway_overhead, "install_uvloop", lambda: False)
    out = tmp_path / "o.json"
    argv = ["--skip-gateway", "--skip-litellm", "--skip-floor", "--levels", "1"]
    argv += ["--requests", "5", "--warmup", "1", "--ttft-streams", "1", "--ttft-words", "5"]
    assert gateway_overhead.main([*argv, "--json-out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["cells"]["1"]["direct"]["errors"] == 0
    assert data["ttft"]["direct"]["ok"] == 1 and data["ttft"]["direct"]["text_events_p50"] == 5


def test_before_after_verdict_and_order(tmp_path) -> None:
    from bench._before import Tree
    from bench._overhead_gateway import variants
    from bench._overhead_report import comparisons

    old = Tree("abc", tmp_path, tmp_path / "python", tmp_path / "workbench")
    order = [v.name for v in variants(["none", "default"], old, None)]
    assert order == ["before/none", "after/none", "after/default", "before/default"]
    assert [v.name for v in variants(["default"], None, None)] == ["after/default"]

    def cell(p50: float, rps: float) -> Any:
        return SimpleNamespace(p50=p50, rps=rps, proxy_net_cpu_ms=1.0)

    table = {
        1: {"direct": cell(20, 50), "before/none": cell(22, 45), "after/none": cell(22.1, 45)},
        8: {"direct": cell(20, 400), "before/none": cell(22, 380), "after/none": cell(24, 380)},
        32: {"direct": cell(20, 900), "before/none": cell(40, 700), "after/none": cell(40, 600)},
    }
    verdicts = {c.level: c.regressed for c in comparisons([1, 8, 32], table, ["none"])}
    # +0.1 ms is noise; +2 ms on +2 ms added is a regression; so is 14% fewer req/s
    assert verdicts == {1: False, 8: True, 32: True}


def test_before_tree_runs_the_old_code(tmp_path) -> None:
    from bench._before import before_tree, check_tree

    with before_tree("HEAD", tmp_path) as tree:
        assert tree.root.is_relative_to(tmp_path) and (tree.root / "pyproject.toml").exists()
        described = check_tree(tree)  # raises unless workbench/serve import from tree.root
        assert "openai-compatible" in described
        assert tree.workbench.exists()
    assert not (tmp_path / "before").exists()
