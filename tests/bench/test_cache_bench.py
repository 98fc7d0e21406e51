"""bench.cache: the scoring of one lookup per pair (known answers), the tune-only
threshold rule, and a smoke run of the whole command at tiny sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import cache as bench_cache
from bench._cache_data import Pair
from bench._cache_gateway import GatewayRun
from bench._cache_latency import Timed, miss_of, summarise
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
         "--pairs", "2", "--skip", "gateway"]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "chosen on the TUNE half only" in out
    for label in ("off", "exact", "semantic, cosine only", "semantic + second stage"):
        assert f"  {label} " in out
    assert "eval (SEEN)" in out and "eval2 (fresh, once)" in out  # side by side
    assert "one scope" in out and "1,000 scopes" in out
    assert "exact hit" in out and "semantic hit" in out and "miss" in out
    assert "stream semantic hit, first chunk" in out
    assert "gateway leg: skipped (--skip gateway)" in out


def timed(kind: str, status: str, ms: float, stream: bool = False, first: float = 0.0) -> Timed:
    return Timed(kind, stream, status, ms, first or ms, f"r{ms}")


def test_rows_count_only_requests_served_with_their_status() -> None:
    samples = [
        timed("miss", "miss", 200.0),
        timed("miss", "miss", 220.0),
        timed("miss", "semantic_hit", 5.0),  # a "new" question served from cache: left out
        timed("exact hit", "hit", 4.0),
        timed("exact hit", "miss", 210.0),  # not served from cache: left out
        timed("semantic hit", "semantic_hit", 20.0),
        timed("semantic hit", "semantic_hit", 30.0),
        timed("miss", "miss", 300.0, stream=True, first=250.0),
        timed("semantic hit", "semantic_hit", 40.0, stream=True, first=25.0),
    ]
    rows = summarise(samples)
    assert (rows["miss"].sent, rows["miss"].served, rows["miss"].p50) == (3, 2, 210.0)
    assert (rows["exact hit"].served, rows["exact hit"].p50) == (1, 4.0)
    assert rows["semantic hit"].p50 == 25.0
    assert rows["stream miss, first chunk"].p50 == 250.0
    assert rows["stream miss, whole"].p50 == 300.0
    assert rows["stream semantic hit, first chunk"].p50 == 25.0
    assert miss_of("stream semantic hit, first chunk") == "stream miss, first chunk"
    assert miss_of("exact hit") == "miss"
    assert "stream exact hit, whole" not in rows  # none sent


def test_log_check_needs_one_row_with_the_header_status() -> None:
    a, b, c = timed("miss", "miss", 1.0), timed("exact hit", "hit", 2.0), timed("miss", "miss", 3.0)
    run = GatewayRun([a, b, c], startup_s=1.0, warmup=0, logged={
        a.request_id: [{"cache_status": "miss", "latency_ms": 0.5}],
        b.request_id: [{"cache_status": "miss"}],  # the log disagrees with the header
    })  # fmt: skip
    ok, bad = run.log_check()
    assert ok == 1 and len(bad) == 2
    assert "header hit, log miss" in bad[0] and "logged 0 times" in bad[1]
    assert run.server_ms(a) == 0.5 and run.server_ms(b) is None
    assert run.logged_p50("miss") == 0.5  # c has no record: left out
