"""Exact- and semantic-cache suggestions on a log with a known number of repeats."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from workbench.analytics.cost import suggest
from workbench.providers.embeddings import Embedder

from ._logs import chat, record, write

NOW = datetime(2026, 5, 20, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 5, 20, 9, 0, tzinfo=UTC)  # one hour partition: one file


@pytest.fixture(scope="module")
def encode() -> Callable[[list[str]], np.ndarray]:
    return Embedder.load().encode


def _log(root: Path) -> None:
    recs: list[dict] = []

    def add(text: str, cost: float = 0.01, **kw) -> None:
        params = kw.pop("params", {"temperature": 0})
        recs.append(
            record(
                T0 + timedelta(seconds=len(recs)), body=chat(text, **params), cost_usd=cost, **kw
            )
        )

    # exact: 3 identical requests -> 2 hits, $0.02 + $0.05
    add("What is the capital of France?")
    add("What is the capital of France?", cost=0.02)
    add("What is the capital of France?", cost=0.05)
    # same text, other workspace / other max_tokens / other policy: never a repeat
    add("What is the capital of France?", workspace="ws-b")
    add("What is the capital of France?", params={"temperature": 0, "max_tokens": 50})
    add("What is the capital of France?", policy_hash="p2")
    # stream / user do not change the answer: a repeat ($0.04)
    add(
        "What is the capital of France?",
        cost=0.04,
        params={"temperature": 0, "stream": True, "user": "u9"},
    )
    # near duplicates that must count: 3 ($0.10 + $0.20 + $0.30)
    add("How do I reset my password?")
    add("What are the steps to reset my password?", cost=0.10)
    add("How do I cancel my subscription?")
    add("What's the way to cancel my subscription?", cost=0.20)
    add("How do I delete my account?")
    add("How can I delete my account?", cost=0.30)
    # near misses above the cosine threshold that must NOT count
    add("Refund order 1234.")
    add("Refund order 1235.", cost=1.0)
    add("Book a flight to Paris on Monday.")
    add("Book a flight to Paris on Tuesday.", cost=1.0)
    add("Is it safe to swim after eating?")
    add("Is it not safe to swim after eating?", cost=1.0)
    # paraphrases the rule keeps out: hot sampling, tools, other workspace
    add("How can I track my order?", params={"temperature": 1.0})
    add("Where can I track my order?", cost=1.0, params={"temperature": 1.0})
    add("Explain how photosynthesis works.", params={"temperature": 0, "tools": [{"x": 1}]})
    add(
        "Can you explain how photosynthesis works?",
        cost=1.0,
        params={"temperature": 0, "tools": [{"x": 1}]},
    )
    add("Can you explain how photosynthesis works?", cost=1.0, workspace="ws-c")
    # errors and cache hits are not traffic a cache could still save
    add("How do I reset my password?", cost=1.0, status="error")
    add("What is the capital of France?", cost=0.0, cache_status="hit")
    write(root, recs)


def test_exact_and_semantic_suggestions(wb_home: Path, encode) -> None:
    _log(wb_home / "logs")
    out = suggest(since="1d", now=NOW, kinds=["exact_cache", "semantic_cache"], encode=encode)
    exact = out.of_kind("exact_cache")[0]
    assert exact.requests == 3
    assert exact.usd_window == pytest.approx(0.02 + 0.05 + 0.04)
    assert exact.usd_per_month == pytest.approx(0.11 * 30.44)
    assert exact.billed
    sem = out.of_kind("semantic_cache")[0]
    assert sem.requests == 3
    assert sem.usd_window == pytest.approx(0.60)
    assert sem.data["second_stage_rejected"] >= 3
    assert [s.kind for s in out] == ["semantic_cache", "exact_cache"]  # by money
    assert len(sem.examples) == 3 and len(exact.examples) >= 1


def test_without_second_stage_near_misses_count(wb_home: Path, encode) -> None:
    from workbench.cache import NearDupRule

    _log(wb_home / "logs")
    rule = NearDupRule(use_second_stage=False)
    out = suggest(since="1d", now=NOW, kinds=["semantic_cache"], encode=encode, rule=rule)
    sem = out.of_kind("semantic_cache")[0]
    assert sem.requests == 6  # the 3 near misses now count too
    assert sem.usd_window == pytest.approx(3.60)
