"""``ModelReplica``: one Ray Serve deployment per configured replica-hosted chat model.

The engine comes from the target's provider factory
(:func:`workbench.providers.replicas.build_replica_engine`): ``local`` gives a
:class:`workbench.providers.local.LocalModel`, a plugin provider its own
:class:`~workbench.providers.replicas.ReplicaChatEngine`. Requests are batched
dynamically with ``@serve.batch``; each batch runs one ``generate_stream`` loop in a
worker thread so the replica's event loop keeps accepting requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncGenerator
from typing import Any

from ray import serve

from workbench.providers import ChatRequest, Completion, Delta
from workbench.providers.local import CompletionCollector

log = logging.getLogger("ray.serve")


def _replica_id() -> str:
    try:
        ctx = serve.get_replica_context()
        return str(getattr(ctx, "replica_tag", None) or ctx.replica_id)
    except Exception:
        return f"pid-{os.getpid()}"


@serve.deployment(
    ray_actor_options={"num_cpus": 0},
    max_ongoing_requests=256,
    health_check_period_s=10,
)
class ModelReplica:
    """Serves one local causal LM."""

    def __init__(self, target: dict[str, Any], home: str) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.config.gateway import ModelTarget
        from workbench.providers.replicas import build_replica_engine, engine_info

        self.target = ModelTarget.model_validate(target)
        self.engine = build_replica_engine(self.target, "chat")
        self._info = engine_info(self.engine)
        self._lock = asyncio.Lock()
        self.replica = _replica_id()
        if self._info["is_fallback"]:
            log.warning(
                "model %s: serving the tiny fallback LM (%s)",
                self.target.name,
                self._info["fallback_reason"],
            )
        self.generate_batch.set_max_batch_size(self.target.max_batch_size)
        self.generate_batch.set_batch_wait_timeout_s(self.target.batch_wait_timeout_s)
        self.stream_batch.set_max_batch_size(self.target.max_batch_size)
        self.stream_batch.set_batch_wait_timeout_s(self.target.batch_wait_timeout_s)

    def info(self) -> dict[str, Any]:
        """What this replica serves."""
        return {"name": self.target.name, **self._info, "replica": self.replica}

    async def _steps(self, reqs: list[ChatRequest]) -> AsyncGenerator[list[Delta | None], None]:
        """Drive one batched decode loop, a step at a time, in a worker thread.

        The engine is not thread-safe, so steps of concurrent batches (streaming and
        non-streaming) are serialized by one lock and interleave step by step.
        """
        it = self.engine.generate_stream(reqs)
        sentinel = object()
        while True:
            async with self._lock:
                step = await asyncio.to_thread(next, it, sentinel)
            if step is sentinel:
                return
            assert isinstance(step, list)
            yield step

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def generate_batch(self, items: list[tuple[ChatRequest, float]]) -> list[Completion]:
        start = time.time()
        collector = CompletionCollector(len(items))
        async for step in self._steps([r for r, _ in items]):
            collector.add(step)
        out = collector.completions()
        for res, (_, enq) in zip(out, items, strict=True):
            res.replica = self.replica
            res.batch_size = len(items)
            res.queue_wait_ms = max(0.0, (start - enq) * 1000.0)
        return out

    async def generate(self, req: ChatRequest) -> Completion:
        """A whole completion, batched with concurrent callers."""
        self.engine.validate(req)
        result: Completion = await self.generate_batch((req, time.time()))
        return result

    @serve.batch(max_batch_size=8, batch_wait_timeout_s=0.01)
    async def stream_batch(
        self, items: list[tuple[ChatRequest, float]]
    ) -> AsyncGenerator[list[Any], None]:
        start = time.time()
        done = [False] * len(items)
        async for step in self._steps([r for r, _ in items]):
            out: list[Any] = []
            for i, d in enumerate(step):
                if done[i]:
                    out.append(StopIteration)
                    continue
                if d is None:
                    out.append(Delta())
                    continue
                if d.finish_reason is not None:
                    d.replica = self.replica
                    d.batch_size = len(items)
                    d.queue_wait_ms = max(0.0, (start - items[i][1]) * 1000.0)
                    done[i] = True
                out.append(d)
            yield out
        if not all(done):
            yield [StopIteration] * len(items)

    async def stream(self, req: ChatRequest) -> AsyncGenerator[Delta, None]:
        """Stream a completion, batched with concurrent streaming callers."""
        self.engine.validate(req)
        async for d in self.stream_batch((req, time.time())):
            yield d
