"""bench.cache: the scoring of one lookup per pair (known answers), the tune-only
threshold rule, and a smoke run of the whole command at tiny sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cache as bench_cache
from bench._cache_data import Pair
from bench._cache_quality import Played, choose_threshold, outcome
from workbench.cache._types import Candidate


def pair(i: int, kind: str, a: str, b: str, differs: str | None = None) -> Pair:
    return Pair(f"x-{i}", "general", kind, differs, "tune", a, b)


def played() -> Played:
    pairs = [
        pair(0, "paraphrase", "How do I sort a list?", "How can I sort a list?"),
        pair(1, "paraphrase", "What is an API?", "Explain what an API is."),
        pair(2, "near_miss", "Refund order 1234.", "Refund order 1235.", "number"),
        pair(3, "near_miss", "Is it safe?", "Is it not safe?", "negation"),
    ]
    cands = [
        [Candidate("x-0", 0.95, "How do I sort a list?")],  # right at <= 0.95
        [Candidate("x-3", 0.90, "Is it safe?"), Candidate("x-1", 0.85, "What is an API?")],
        [Candidate("x-2", 0.97, "Refund order 1234.")],  # the second stage refuses
        [Candidate("x-3", 0.93, "Is it safe?")],  # the second stage refuses (negation)
    ]
    return Played(pairs, cands)


def test_outcome_known_answers() -> None:
    p = played()
    off = outcome(p, "off", 0.8, True)
    assert (off.right, off.wrong, off.false) == (0, 0, 0)
    exact = outcome(p, "exact", 0.8, True)
    assert (exact.right, exact.wrong, exact.false) == (0, 0, 0)
    cos = outcome(p, "semantic", 0.8, False)  # pair 1 is served the wrong entry
    assert (cos.right, cos.wrong, cos.false) == (1, 1, 2)
    assert dict(cos.false_by_tag) == {"number": 1, "negation": 1}
    assert cos.false_hit_rate == 1.0 and cos.hit_rate == 0.5
    two = outcome(p, "semantic", 0.8, True)  # "Is it safe?" lacks the name "API": next one
    assert (two.right, two.wrong, two.false) == (2, 0, 0)
    high = outcome(p, "semantic", 0.96, True)
    assert (high.right, high.wrong, high.false) == (0, 0, 0)


def test_threshold_rule_uses_only_the_played_half() -> None:
    chosen, grid = choose_threshold(played())
    clean = [t for t, o in grid if o.false == 0 and o.wrong == 0]
    best = max(o.right for t, o in grid if t in clean)
    assert chosen == max(t for t, o in grid if t in clean and o.right == best)
    assert chosen == 0.85  # the highest threshold that still serves both paraphrases


def test_smoke_run(wb_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bench_cache.main(
        ["--encoder", "hash", "--entries", "1200", "--queries", "20", "--embed-queries", "3",
         "--pairs", "2"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "chosen on the TUNE half only" in out
    for label in ("off", "exact", "semantic, cosine only", "semantic + second stage"):
        assert f"  {label} " in out
    assert "eval (SEEN)" in out and "eval2 (fresh, once)" in out  # side by side
    assert "one scope" in out and "1,000 scopes" in out
    assert "exact hit" in out and "semantic hit" in out and "miss" in out
