"""``Embedder``: a replica-hosted embeddings engine as a batched Ray Serve deployment.

The engine comes from the target's provider factory
(:func:`workbench.providers.replicas.build_replica_engine`): ``embeddings`` gives the
MiniLM encoder, a plugin provider its own
:class:`~workbench.providers.replicas.ReplicaEmbeddingEngine`.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from ray import serve

from workbench.providers import EmbeddingResult


@serve.deployment(ray_actor_options={"num_cpus": 0}, max_ongoing_requests=256)
class Embedder:
    """Encodes texts; concurrent requests are merged into one forward pass."""

    def __init__(self, target: dict[str, Any], home: str) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.config.gateway import ModelTarget
        from workbench.providers.replicas import build_replica_engine

        self.target = ModelTarget.model_validate(target)
        self.engine = build_replica_engine(self.target, "embeddings")

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
    async def _embed_batch(self, batches: list[list[str]]) -> list[EmbeddingResult]:
        from workbench.providers.replicas import embed_batches

        return await asyncio.to_thread(embed_batches, self.engine, batches)

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """One vector per text (MiniLM: L2-normalized, 384 dims)."""
        result: EmbeddingResult = await self._embed_batch(texts)
        return result
