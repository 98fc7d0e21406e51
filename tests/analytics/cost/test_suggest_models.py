"""max_tokens and cheaper-model suggestions (with a live replay against a fake provider)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from bench.fake_providers import FakeProviderThread
from workbench.analytics.cost import suggest
from workbench.config.gateway import parse_config

from ._logs import chat, record, write

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)


def test_oversized_max_tokens(wb_home: Path) -> None:
    recs = []
    for i in range(20):  # key k-big: asks 4000, uses 100
        recs.append(
            record(
                T0 + timedelta(seconds=i), key_id="k-big", max_tokens=4000, completion_tokens=100
            )
        )
    for i in range(20):  # key k-ok: asks 200, uses 150: fine
        recs.append(
            record(
                T0 + timedelta(seconds=30 + i), key_id="k-ok", max_tokens=200, completion_tokens=150
            )
        )
    for i in range(5):  # too few requests to judge
        recs.append(
            record(
                T0 + timedelta(seconds=60 + i),
                key_id="k-few",
                max_tokens=4000,
                completion_tokens=10,
            )
        )
    write(wb_home / "logs", recs)
    out = suggest(since="1d", now=NOW, kinds=["max_tokens"])
    assert len(out) == 1
    s = out.items[0]
    assert s.data["key_id"] == "k-big"
    assert s.data["unused_tokens"] == 20 * 3900
    assert s.usd_window == pytest.approx(20 * 3900 * 10.0 / 1e6)  # gpt-4o output $10/M
    assert not s.billed  # OpenAI-style providers bill actual tokens
    assert s.data["suggested_max_tokens"] == 128  # p99 100 * 1.25 -> 125 -> 128
    billed = suggest(since="1d", now=NOW, kinds=["max_tokens"], bills_on_max={"openai-compatible"})
    assert billed.items[0].billed


def _config(base_url: str):
    common = {"provider": "openai-compatible", "base_url": base_url, "api_key_env": "FAKE_KEY"}
    return parse_config(
        {
            "models": [
                {"name": "gpt-4o", "model": "gpt-4o", **common},
                {"name": "mini", "model": "gpt-4o-mini", **common},
                {"name": "echo", "provider": "echo"},
            ]
        }
    )


def _short_log(root: Path) -> None:
    recs = []
    for i in range(25):
        text = f"please answer question number {i}"
        # 10 logged answers equal what the fake (an echo) answers, 15 differ
        answer = text if i < 10 else f"a different answer about topic {i}"
        if i % 2:
            body = {"choices": [{"message": {"role": "assistant", "content": answer}}]}
            extra = {"response_body": json.dumps(body)}
        else:
            outs = [{"target": "gpt-4o", "text": answer, "finish_reason": "stop"}]
            extra = {"upstream_outputs": json.dumps(outs), "response_body": "(masked)"}
        recs.append(
            record(
                T0 + timedelta(seconds=i),
                body=chat(text),
                prompt_tokens=100,
                completion_tokens=50,
                cost_usd=0.00075,
                **extra,
            )
        )
    for i in range(5):  # long requests: not "short and simple"
        recs.append(
            record(
                T0 + timedelta(minutes=5, seconds=i),
                body=chat(f"long {i}"),
                prompt_tokens=2000,
                completion_tokens=50,
                cost_usd=0.0055,
            )
        )
    write(root, recs)


def test_cheaper_model_estimate(wb_home: Path) -> None:
    _short_log(wb_home / "logs")
    cfg = _config("http://127.0.0.1:9/v1")
    out = suggest(since="1d", now=NOW, kinds=["cheaper_model"], config=cfg)
    assert len(out) == 1
    s = out.items[0]
    assert s.data["target"] == "mini"  # echo is local: not proposed by default
    assert s.requests == 25
    mini = 25 * (100 * 0.15 + 50 * 0.60) / 1e6
    assert s.data["cost_on_target_usd"] == pytest.approx(mini)
    assert s.usd_window == pytest.approx(25 * 0.00075 - mini)


def test_cheaper_model_live_agreement(wb_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_KEY", "sk-test")
    _short_log(wb_home / "logs")

    def encode(texts: list[str]) -> np.ndarray:  # a bag-of-words stand-in for MiniLM
        vocab = sorted({w for t in texts for w in t.split()})
        m = np.array([[t.split().count(w) for w in vocab] for t in texts], dtype=np.float32)
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    with FakeProviderThread("openai") as fake:
        cfg = _config(fake.base_url)
        out = suggest(
            since="1d", now=NOW, kinds=["cheaper_model"], config=cfg, live=25, encode=encode
        )
        assert fake.stats()["requests"] == 25
        assert fake.last()["body"]["model"] == "gpt-4o-mini"
    agree = out.items[0].data["agreement"]
    assert agree["sampled"] == 25 and agree["answered"] == 25 and agree["failed"] == 0
    assert agree["exact_match_rate"] == pytest.approx(10 / 25)
    assert 0.4 < agree["mean_cosine"] < 1.0
