"""ML scoring batched across concurrent requests.

The pipeline runs the guardrails of each request on its own, so each request's stage
asks the scorer for its own few texts. :class:`BatchingScorer` collects those calls for
a few milliseconds (or until ``max_texts`` texts wait), then runs one encoder pass over
all of them in a worker thread (:meth:`LocalScorer.analyze`), one head call per
classifier, and answers every caller from that.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any


@dataclass
class _Call:
    classifier: str  # "pii_ner" for tag()
    texts: list[str]
    future: asyncio.Future[list[Any]]


@dataclass
class BatchStats:
    """How the batching went."""

    calls: int = 0
    batches: int = 0
    texts: int = 0
    prescored: int = 0  # distinct texts encoded ahead of the pipeline (full recompute)
    sizes: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, float]:
        """Calls, batches, texts, texts pre-scored and the mean texts per batch."""
        mean = self.texts / self.batches if self.batches else 0.0
        return {
            "calls": self.calls,
            "batches": self.batches,
            "texts": self.texts,
            "prescored": self.prescored,
            "mean_batch": round(mean, 1),
        }


def _compute(scorer: Any, calls: list[_Call]) -> list[list[Any] | BaseException]:
    """Every call's answer, from one encoder pass and one head call per classifier."""
    texts = list(dict.fromkeys(t for c in calls for t in c.texts))
    scorer.analyze(texts)
    by_classifier: dict[str, dict[str, Any]] = {}
    out: list[list[Any] | BaseException] = []
    for cl in dict.fromkeys(c.classifier for c in calls):
        wanted = list(dict.fromkeys(t for c in calls if c.classifier == cl for t in c.texts))
        try:
            values = scorer.tag(wanted) if cl == "pii_ner" else scorer.score(cl, wanted)
            by_classifier[cl] = dict(zip(wanted, values, strict=True))
        except Exception as exc:  # an unknown classifier fails its callers only
            by_classifier[cl] = {"__error__": exc}
    for c in calls:
        got = by_classifier[c.classifier]
        err = got.get("__error__")
        out.append(err if isinstance(err, BaseException) else [got[t] for t in c.texts])
    return out


class BatchingScorer:
    """The engine's async scorer over a synchronous one (a ``LocalScorer``)."""

    def __init__(self, scorer: Any, *, wait_ms: float = 4.0, max_texts: int = 256) -> None:
        self.scorer = scorer
        self.wait_s = wait_ms / 1000.0
        self.max_texts = max_texts
        self.stats = BatchStats()
        self._pending: list[_Call] = []
        self._timer: asyncio.TimerHandle | None = None

    async def score(self, classifier: str, texts: list[str]) -> list[Any]:
        """Scores of ``classifier`` for ``texts`` (batched with concurrent callers)."""
        return await self._submit(classifier, texts)

    async def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        """PII spans for ``texts`` (batched with concurrent callers)."""
        return await self._submit("pii_ner", texts)

    async def _submit(self, classifier: str, texts: list[str]) -> list[Any]:
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[list[Any]] = loop.create_future()
        self._pending.append(_Call(classifier, list(texts), fut))
        self.stats.calls += 1
        if sum(len(c.texts) for c in self._pending) >= self.max_texts:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self.wait_s, self._flush)
        return await fut

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        calls, self._pending = self._pending, []
        if calls:
            asyncio.get_running_loop().create_task(self._run(calls))

    async def _run(self, calls: list[_Call]) -> None:
        n = len({t for c in calls for t in c.texts})
        self.stats.batches += 1
        self.stats.texts += n
        try:
            results = await asyncio.to_thread(_compute, self.scorer, calls)
        except BaseException as exc:
            for c in calls:
                if not c.future.done():
                    c.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for c, res in zip(calls, results, strict=True):
            if c.future.done():
                continue
            if isinstance(res, BaseException):
                c.future.set_exception(res)
            else:
                c.future.set_result(res)
