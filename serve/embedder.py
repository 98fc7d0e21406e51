"""``Embedder``: the MiniLM sentence encoder as a batched Ray Serve deployment."""

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
        from workbench.providers.embeddings import Embedder as Engine

        self.target = ModelTarget.model_validate(target)
        self.engine = Engine.load(self.target.model)

    @serve.batch(max_batch_size=32, batch_wait_timeout_s=0.005)
    async def _embed_batch(self, batches: list[list[str]]) -> list[EmbeddingResult]:
        flat = [t for texts in batches for t in texts]
        vecs = await asyncio.to_thread(self.engine.encode, flat)
        counts = await asyncio.to_thread(
            lambda: [self.engine.count_tokens(texts) for texts in batches]
        )
        out, i = [], 0
        for texts, n_tok in zip(batches, counts, strict=True):
            out.append(
                EmbeddingResult(
                    vectors=vecs[i : i + len(texts)].tolist(),
                    prompt_tokens=int(n_tok),
                    model=self.engine.model_name,
                )
            )
            i += len(texts)
        return out

    async def embed(self, texts: list[str]) -> EmbeddingResult:
        """Vectors for ``texts`` (L2-normalized, 384 dims)."""
        result: EmbeddingResult = await self._embed_batch(texts)
        return result
