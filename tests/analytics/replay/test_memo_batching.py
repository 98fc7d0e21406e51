"""Verdict reuse in the engine (keys, logged seeds, actions not part of the key) and ML
scoring batched across concurrent requests."""

from __future__ import annotations

import asyncio
from typing import Any

from workbench.analytics.replay import BatchingScorer
from workbench.guardrails._memo import VerdictMemo
from workbench.guardrails.engine import GuardrailEngine
from workbench.policy import Policy


def _engine(action: str, memo: VerdictMemo | None = None, **kw: Any) -> GuardrailEngine:
    policy = Policy.model_validate(
        {
            "id": "m",
            "input": [
                {
                    "name": "no-kiwi",
                    "validator": "regex_deny",
                    "params": {"patterns": ["kiwi"]},
                    "on_fail": action,
                }
            ],
        }
    )
    return GuardrailEngine(policy, memo=memo, **kw)


def test_logged_verdicts_are_reused_whatever_the_action() -> None:
    logged = asyncio.run(_engine("flag").run_stage("input", ["a kiwi", "plain"]))
    dicts = [v.to_dict() for v in logged.verdicts]
    assert dicts[0]["config_hash"] and dicts[0]["text_hash"]
    memo = VerdictMemo()
    assert memo.seed(dicts) == 1
    engine = _engine("deny", memo)
    out = asyncio.run(engine.run_stage("input", ["a kiwi", "plain"]))
    assert memo.hits == 1 and memo.misses == 0
    assert out.deny is not None and out.deny.spans == logged.verdicts[0].spans
    other = asyncio.run(engine.run_stage("input", ["plain", "a kiwi"]))  # other positions
    assert memo.misses == 1 and other.deny is not None
    assert other.deny.spans[0].message == 1


class CountingScorer:
    """A synchronous scorer that counts its encoder passes."""

    def __init__(self) -> None:
        self.passes: list[int] = []

    def analyze(self, texts: list[str]) -> None:
        self.passes.append(len(texts))

    def score(self, classifier: str, texts: list[str]) -> list[float]:
        return [0.9 if "attack" in t else 0.1 for t in texts]

    def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        return [[] for _ in texts]


def test_ml_scoring_is_batched_across_concurrent_requests() -> None:
    inner = CountingScorer()
    scorer = BatchingScorer(inner, wait_ms=20)
    policy = Policy.model_validate(
        {
            "id": "ml",
            "input": [{"name": "inj", "validator": "prompt_injection", "on_fail": "deny"}],
        }
    )
    engine = GuardrailEngine(policy, scorer=scorer)

    async def many() -> list[Any]:
        texts = [f"question {i}" for i in range(30)] + ["an attack here"]
        return list(await asyncio.gather(*(engine.run_stage("input", [t]) for t in texts)))

    outs = asyncio.run(many())
    assert [o.deny is not None for o in outs] == [False] * 30 + [True]
    assert scorer.stats.calls == 31
    assert len(inner.passes) == scorer.stats.batches < 31
    assert sum(inner.passes) == 31
