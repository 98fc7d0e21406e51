"""``GuardrailScorer``: the batched ML guardrail scores (MiniLM + classifier heads).

Concurrent requests' texts are merged into one batch; one encoder pass per text
serves every classifier (the in-process scorer caches embeddings by text).
"""

from __future__ import annotations

import asyncio
import os
from collections import defaultdict
from typing import Any

from ray import serve

from workbench.guardrails._scoring import score_sync, tag_sync


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=512)
class GuardrailScorer:
    """Serves ``score(classifier, texts)`` and ``tag(texts)`` for ML checks."""

    def __init__(self, home: str) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.guardrails.ml import LocalScorer

        self.scorer = LocalScorer()

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.003)
    async def _batch(self, items: list[tuple[str, list[str]]]) -> list[list[Any]]:
        by_cl: dict[str, list[int]] = defaultdict(list)
        for i, (cl, _) in enumerate(items):
            by_cl[cl].append(i)
        out: list[list[Any]] = [[] for _ in items]

        def run() -> None:
            for cl, idxs in by_cl.items():
                flat = [t for i in idxs for t in items[i][1]]
                res = (
                    tag_sync(self.scorer, flat)
                    if cl == "pii_ner"
                    else score_sync(self.scorer, cl, flat)
                )
                pos = 0
                for i in idxs:
                    n = len(items[i][1])
                    out[i] = list(res[pos : pos + n])
                    pos += n

        await asyncio.to_thread(run)
        return out

    async def score(self, classifier: str, texts: list[str]) -> list[float]:
        """Probabilities of ``classifier`` for each text."""
        result: list[float] = await self._batch((classifier, texts))
        return result

    async def score_many(self, items: list[tuple[str, list[str]]]) -> list[list[Any]]:
        """Each ``(classifier, texts)`` item's values (``pii_ner``: spans), joining the
        same batches as single calls: one round trip for a stage's classifiers."""
        return list(await asyncio.gather(*(self._batch((cl, list(t))) for cl, t in items)))

    async def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """Named-entity spans (PERSON, ADDRESS) for each text."""
        result: list[list[dict[str, Any]]] = await self._batch(("pii_ner", texts))
        return result
