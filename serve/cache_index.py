"""``CacheIndex``: the semantic cache's index as one Ray Serve replica shared by all ingress.

Every ingress replica's pipeline gets a :class:`HandleSemanticIndex` over this
deployment's handle, so a near duplicate stored through one replica is found through any
other. The replica holds a :class:`~workbench.cache.semantic.LocalSemanticIndex`
(per-scope shards, faiss HNSW for large scopes, snapshot + journal under
``$WORKBENCH_HOME/cache/semantic``). It embeds with its own copy of the MiniLM target's
engine (``target``: the same provider factory as the ``Embedder`` deployment, so the same
vectors), in a worker thread: a lookup is then one Ray hop from the ingress, not two plus
the Embedder's batch wait (through the gateway the Embedder hop was most of a semantic
hit's time). Concurrent lookups still share one encoder call (the index coalesces them).
Given an ``embedder`` handle instead, it embeds through that deployment.

One replica on purpose: the index is one writer's journal and lives in one process's
memory. On a multi-node cluster it runs on one node and every ingress calls it over Ray
(a lookup is one small round trip: text in, at most ``k`` candidates out); its files are on
that node. If Serve restarts it elsewhere, it starts from that node's files (possibly
empty): entries still in the exact store are then only served exactly until requests
index them again (``LocalSemanticIndex.rebuild`` can re-index a store's entries).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ray import serve

from workbench.cache._types import Candidate


@serve.deployment(ray_actor_options={"num_cpus": 0}, num_replicas=1, max_ongoing_requests=1000)
class CacheIndex:
    """The shared semantic index (lookup, add, remove, stats)."""

    def __init__(
        self,
        embedder: Any,
        home: str,
        max_entries: int = 100_000,
        target: dict[str, Any] | None = None,
    ) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.cache.semantic import LocalSemanticIndex

        if target is None and embedder is None:
            raise ValueError("CacheIndex needs an embeddings target or an Embedder handle")
        self._embedder = embedder
        self._target = target
        self._engine: Any = None  # built on first use: no model in memory until a policy
        self._loading = asyncio.Lock()  # caches semantically
        self.index = LocalSemanticIndex(self._embed, max_entries=max_entries)

    async def _embed(self, texts: list[str]) -> Any:
        if self._target is None:
            # the Embedder deployment answers an EmbeddingResult (vectors + token count)
            return await self._embedder.embed.remote(texts)
        from workbench.providers.replicas import build_replica_engine, embed_batches

        async with self._loading:
            if self._engine is None:
                self._engine = await asyncio.to_thread(
                    build_replica_engine, self._target, "embeddings"
                )
        return (await asyncio.to_thread(embed_batches, self._engine, [texts]))[0]

    async def lookup(self, scope: str, text: str, k: int = 4) -> list[Candidate]:
        """Up to ``k`` neighbours of ``text`` in ``scope``, best first."""
        return await self.index.lookup(scope, text, k)

    async def add(self, scope: str, text: str, key: str, expires_at: float) -> None:
        """Index ``text`` as entry ``key`` until ``expires_at``."""
        await self.index.add(scope, text, key, expires_at)

    async def remove(self, keys: list[str]) -> None:
        """Forget entries the store evicted or cleared."""
        await self.index.remove(keys)

    async def stats(self) -> dict[str, Any]:
        """Entries, scopes, largest scope, evictions, graphs in use."""
        return self.index.stats()

    def __del__(self) -> None:
        # Serve calls this on a graceful shutdown: write a snapshot, close the journal
        index = getattr(self, "index", None)
        if index is not None:
            index.close()


class HandleSemanticIndex:
    """:class:`~workbench.cache._types.SemanticIndex` over the ``CacheIndex`` handle."""

    def __init__(self, handle: Any) -> None:
        """Wrap a ``DeploymentHandle`` of :class:`CacheIndex`."""
        self._handle = handle

    async def lookup(self, scope: str, text: str, k: int = 4) -> list[Candidate]:
        """Up to ``k`` neighbours of ``text`` in ``scope``, best first."""
        result: list[Candidate] = await self._handle.lookup.remote(scope, text, k)
        return result

    async def add(self, scope: str, text: str, key: str, expires_at: float) -> None:
        """Index ``text`` as entry ``key`` until ``expires_at``."""
        await self._handle.add.remote(scope, text, key, expires_at)

    async def remove(self, keys: list[str]) -> None:
        """Forget entries the store evicted or cleared."""
        if keys:
            await self._handle.remove.remote(list(keys))

    async def stats(self) -> dict[str, Any]:
        """The index's :meth:`CacheIndex.stats`."""
        result: dict[str, Any] = await self._handle.stats.remote()
        return result


__all__ = ["CacheIndex", "HandleSemanticIndex"]
