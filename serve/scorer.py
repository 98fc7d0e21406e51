"""``GuardrailScorer``: the batched ML guardrail scores (MiniLM + classifier heads).

Concurrent requests' texts are merged into one batch; one encoder pass per text
serves every classifier (the in-process scorer caches embeddings by text).

The encoder runs the precision :data:`DEFAULT_PRECISION` names unless
``$WORKBENCH_GUARDRAIL_PRECISION`` (``fp32`` or ``int8``) or the ``precision`` argument
says otherwise. int8 is the default because it held fp32's accuracy in
``python -m bench.guardrails_eval`` (every accuracy figure inside fp32's 95% interval, no
target lost; recall 1-3 points lower on deepset/BIPIA, PII NER F1 0.861/0.854 vs
0.848/0.853) and was the faster one (default input policy p50 21.0 vs 30.0 ms in-process,
25.0 vs 32.1 ms through this deployment; batches of 32: 48 vs 42 texts/s, all under
load); see bench/README.md (guardrail quality).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import defaultdict
from typing import Any

from ray import serve

from workbench.guardrails._scoring import score_sync, tag_sync

# ``fp32`` or ``int8``: the MiniLM graph the scorer runs (see the module docstring); the
# rule lives in the engine so that a replay scores the same way.
from workbench.guardrails.ml.precision import DEFAULT_PRECISION as DEFAULT_PRECISION
from workbench.guardrails.ml.precision import PRECISION_ENV as PRECISION_ENV
from workbench.guardrails.ml.precision import scorer_precision as _precision


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=512)
class GuardrailScorer:
    """Serves ``score(classifier, texts)`` and ``tag(texts)`` for ML checks."""

    def __init__(
        self, home: str, weights_dir: str | None = None, precision: str | None = None
    ) -> None:
        """Score with the heads in ``weights_dir`` (None: the scorer's default lookup)
        on the MiniLM graph of ``precision`` (see :func:`_precision`)."""
        os.environ.setdefault("WORKBENCH_HOME", home)
        self.precision = _precision(precision)
        self.weights_dir = weights_dir
        self._scorer: Any = None
        self._lock = threading.Lock()

    @property
    def scorer(self) -> Any:
        """The LocalScorer, made on first use: MiniLM loads (and its int8 graph is built,
        once per cache) when the first texts arrive, not at deployment start."""
        with self._lock:
            if self._scorer is None:
                from workbench.guardrails.ml import LocalScorer
                from workbench.guardrails.ml.encoder import Featurizer

                featurizer = None
                if self.precision == "int8":
                    featurizer = Featurizer.load(device="cpu", backend="onnx-int8")
                self._scorer = LocalScorer(self.weights_dir, featurizer=featurizer)
            return self._scorer

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
