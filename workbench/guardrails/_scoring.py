"""Adapters between the engine's async :class:`Scorer` protocol and a scorer object
that may be synchronous (the in-process LocalScorer) or asynchronous."""

from __future__ import annotations

import asyncio
import inspect
from typing import Any


def _run_sync(fn: Any, *args: Any) -> Any:
    """Call ``fn``; if it returned a coroutine, run it to completion here."""
    out = fn(*args)
    if inspect.iscoroutine(out):
        return asyncio.run(out)
    return out


def score_sync(scorer: Any, classifier: str, texts: list[str]) -> list[float]:
    """Blocking scores from any scorer."""
    fn = getattr(scorer, "score_sync", None) or scorer.score
    return list(_run_sync(fn, classifier, texts))


def tag_sync(scorer: Any, texts: list[str]) -> list[list[dict[str, Any]]]:
    """Blocking NER spans from any scorer."""
    fn = getattr(scorer, "tag_sync", None) or scorer.tag
    return list(_run_sync(fn, texts))


class AsyncScorer:
    """Wraps a synchronous scorer for the engine (runs it in a worker thread)."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer

    async def score(self, classifier: str, texts: list[str]) -> list[float]:
        if inspect.iscoroutinefunction(self.scorer.score):
            return list(await self.scorer.score(classifier, texts))
        return await asyncio.to_thread(score_sync, self.scorer, classifier, texts)

    async def tag(self, texts: list[str]) -> list[list[dict[str, Any]]]:
        if inspect.iscoroutinefunction(self.scorer.tag):
            return list(await self.scorer.tag(texts))
        return await asyncio.to_thread(tag_sync, self.scorer, texts)
