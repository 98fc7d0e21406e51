"""synth.send: the mix goes over HTTP to an OpenAI-compatible endpoint (here the fake
upstream from bench/, standing in for a gateway: a real gateway needs Ray)."""

from __future__ import annotations

import asyncio

from bench.fake_upstream import FakeUpstreamThread
from workbench import synth
from workbench.synth._send import build_requests


def test_requests_carry_the_raw_mix_reproducibly() -> None:
    a = build_requests(2000, ["echo", "gpt-4o-mini"], seed=4)
    assert a == build_requests(2000, ["echo", "gpt-4o-mini"], seed=4)
    texts = [body["messages"][1]["content"] for _, body in a]
    kinds = [k for k, _ in a]
    assert {"normal", "pii", "secret", "injection", "jailbreak"} == set(kinds)
    assert any("@example." in t for t in texts)  # raw PII: the gateway masks it
    assert any("AKIA" in t or "ghp_" in t or "sk-proj-" in t for t in texts)
    assert len(set(texts)) < len(texts) / 5  # repeated questions
    assert 0.3 < sum(b["stream"] for _, b in a) / len(a) < 0.5


def test_send_reads_every_answer_even_inside_a_running_loop() -> None:
    with FakeUpstreamThread(delay_ms=1) as up:
        base = f"http://127.0.0.1:{up.port}"
        report = synth.send(base, "sk-test", n=40, concurrency=4, models=["fake"], seed=1)
        assert report.sent == 40 and report.statuses == {200: 40}
        assert sum(report.kinds.values()) == 40

        async def notebook_cell() -> synth.SendReport:
            return synth.send(base, "sk-test", n=10, concurrency=2, models=["fake"])

        assert asyncio.run(notebook_cell()).statuses == {200: 10}
