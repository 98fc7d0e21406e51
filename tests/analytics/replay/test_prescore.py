"""ML pre-scoring (the distinct texts of a slice, in big batches) and the worker count."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from workbench.analytics.replay import BatchingScorer
from workbench.analytics.replay._prescore import prescore, texts_of
from workbench.analytics.replay._session import SHARD_MIN_ROWS, SHARD_MIN_ROWS_ML, pick_workers


class Recording:
    """A scorer that records its ``analyze`` calls."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def analyze(self, texts: list[str]) -> list[Any]:
        self.calls.append(list(texts))
        return [None] * len(texts)


def _row(messages: list[dict[str, Any]], answers: list[str | None]) -> dict[str, Any]:
    return {
        "request_original": json.dumps({"model": "m", "messages": messages}),
        "upstream_outputs": json.dumps([{"target": "t", "text": a} for a in answers]),
    }


def test_texts_of_reads_contents_parts_prompts_and_answers_once() -> None:
    rows = [
        _row(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [{"type": "text", "text": "part one"}]},
            ],
            ["an answer", None],
        ),
        _row([{"role": "user", "content": "Be brief."}], ["an answer"]),  # repeats
        {"request_original": None, "request_body": json.dumps({"prompt": "legacy"})},
        {"request_original": "not json", "upstream_outputs": "[1, 2]"},
        _row([{"role": "user", "content": "   "}], []),  # blank: nothing to score
    ]
    assert texts_of(rows) == ["Be brief.", "part one", "an answer", "legacy"]


def test_prescore_sends_the_distinct_texts_in_batches() -> None:
    scorer = Recording()
    batching = BatchingScorer(scorer)
    rows = [_row([{"role": "user", "content": f"question {i % 700}"}], []) for i in range(1400)]
    sent = asyncio.run(prescore(batching, rows))
    assert sent == 700 and [len(c) for c in scorer.calls] == [512, 188]
    assert batching.stats.as_dict()["prescored"] == 700
    assert asyncio.run(prescore(BatchingScorer(object()), rows)) == 0  # no analyze: skipped


def test_worker_count() -> None:
    assert pick_workers(None, SHARD_MIN_ROWS - 1) == 1
    assert pick_workers(None, SHARD_MIN_ROWS_ML - 1, ml_heavy=True) == 1
    assert pick_workers(3, 10) == 3 and pick_workers(8, 2) == 2 and pick_workers(0, 5) == 1
    assert pick_workers(None, 10**6) >= 1
