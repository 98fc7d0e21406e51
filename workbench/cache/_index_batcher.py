"""Coalescing of concurrent embeddings for the semantic index (one batch per event loop).

Texts asked for while an embedding call is in flight go to the next call together (each
distinct text once), so requests arriving together share one encoder pass instead of
queueing; a lone text is embedded at once (no wait for companions). An error reaches
every waiter of its batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import numpy as np

MAX_BATCH = 64  # texts per coalesced embedding call


class Batcher:
    """Coalesces concurrent single-text embeddings on one event loop into batches."""

    def __init__(self, embed_many: Callable[[list[str]], Awaitable[np.ndarray]]) -> None:
        self._embed_many = embed_many
        self._waiting: list[tuple[str, asyncio.Future[np.ndarray]]] = []
        self._drainer: asyncio.Task[None] | None = None
        self.calls = 0  # embedding calls made (tests, benchmarks)

    async def vector(self, text: str) -> np.ndarray:
        fut: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((text, fut))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.get_running_loop().create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        while self._waiting:
            batch = self._waiting[:MAX_BATCH]
            del self._waiting[:MAX_BATCH]
            texts = list(dict.fromkeys(t for t, _ in batch))
            self.calls += 1
            try:
                vecs = await self._embed_many(texts)
            except BaseException as exc:  # every waiter gets the error, none hangs
                for _, fut in batch:
                    if not fut.done():
                        fut.set_exception(exc)
                if isinstance(exc, asyncio.CancelledError):
                    raise
                continue
            by_text = dict(zip(texts, vecs, strict=True))
            for text, fut in batch:
                if not fut.done():
                    fut.set_result(by_text[text])


__all__ = ["MAX_BATCH", "Batcher"]
