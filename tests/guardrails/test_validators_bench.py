"""bench/guardrails_cheap.py runs (a smoke test: tiny sample, no timing assertions)."""

from __future__ import annotations

import sys

import pytest

from bench import guardrails_cheap


def test_prompts_are_in_range() -> None:
    texts = guardrails_cheap.prompts(50, seed=1)
    assert len(texts) == 50 and all(200 <= len(t) <= 2000 for t in texts)
    assert texts == guardrails_cheap.prompts(50, seed=1)


def test_bench_prints_every_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", ["guardrails_cheap", "--n", "5"])
    guardrails_cheap.main()
    out = capsys.readouterr().out
    for name in guardrails_cheap.PARAMS:
        assert f"\n{name} " in out
    assert "default input policy" in out
