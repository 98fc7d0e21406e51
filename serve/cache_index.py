"""``CacheIndex``: the semantic cache's index as one Ray Serve replica shared by all ingress.

Every ingress replica's pipeline gets a :class:`HandleSemanticIndex` over this
deployment's handle, so a near duplicate stored through one replica is found through any
other. The replica holds a :class:`~workbench.cache.semantic.LocalSemanticIndex`
(per-scope shards, faiss HNSW for large scopes, snapshot + journal under
``$WORKBENCH_HOME/cache/semantic``). It embeds with its own copy of the MiniLM target's
engine (``target``: the same provider factory as the ``Embedder`` deployment), in a worker
thread: a lookup is then one Ray hop from the ingress, not two plus the Embedder's batch
wait (through the gateway the Embedder hop was most of a semantic hit's time), and from
an ingress on the same node not even that: it takes the replica's loopback lane
(``serve/cache_lane.py``: one socket round trip, token-checked), the handle being the
fallback and the way from other nodes. Concurrent
lookups still share one encoder call (the index coalesces them). Given an ``embedder``
handle instead, it embeds through that deployment (fp32).

Which graph embeds (``precision``, else ``$WORKBENCH_CACHE_PRECISION``, see
``workbench/cache/_index_encoder.py``): the engine's fp32 vectors, or for the built-in
MiniLM its own int8 ONNX session, one text per pass (``/v1/embeddings`` stays fp32). The
index records the graph's id with every row; rows of another graph (persisted before a
precision change) are not searched, and are embedded again in the background once the
cache is used.

One replica on purpose: the index is one writer's journal and lives in one process's
memory. On a multi-node cluster it runs on one node and every ingress calls it over Ray
(a lookup is one small round trip: text in, at most ``k`` candidates out); its files are on
that node. If Serve restarts it elsewhere, it starts from that node's files (possibly
empty): entries still in the exact store are then only served exactly until requests
index them again (``LocalSemanticIndex.rebuild`` can re-index a store's entries).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable
from typing import Any

from ray import serve

from serve.cache_lane import LaneClient, LaneError, LaneServer
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
        precision: str | None = None,
    ) -> None:
        os.environ.setdefault("WORKBENCH_HOME", home)
        from workbench.cache._index_encoder import graph_id, index_precision
        from workbench.cache.semantic import LocalSemanticIndex

        if target is None and embedder is None:
            raise ValueError("CacheIndex needs an embeddings target or an Embedder handle")
        self._embedder = embedder
        self._target = target
        self.precision = "fp32" if target is None else index_precision(precision)
        encoder = "embedder-deployment:fp32" if target is None else graph_id(target, self.precision)
        self._encode: Any = None  # built on first use: no model in memory until a policy
        self._loading = asyncio.Lock()  # caches semantically
        self._reembed: asyncio.Task[int] | None = None
        self._timings = Timings.from_env()
        self.index = LocalSemanticIndex(self._embed, max_entries=max_entries, encoder=encoder)
        self._lane = LaneServer(self._lane_lookup)

    async def _embed(self, texts: list[str]) -> Any:
        if self._target is None:
            # the Embedder deployment answers an EmbeddingResult (vectors + token count)
            return await self._embedder.embed.remote(texts)
        async with self._loading:
            if self._encode is None:
                self._encode = await asyncio.to_thread(_build_encoder, self._target, self.precision)
        asked = time.perf_counter()
        vectors, started, ended = await asyncio.to_thread(_timed, self._encode, texts)
        self._timings.note("embed", n=len(texts), handoff_ms=(started - asked) * 1000,
                           encode_ms=(ended - started) * 1000,
                           back_ms=(time.perf_counter() - ended) * 1000)  # fmt: skip
        return vectors

    def _start_reembed(self) -> None:
        """Rows of another graph (after a precision change) are embedded again in the
        background once a lookup or an addition shows the cache is in use."""
        if self.index.pending and (self._reembed is None or self._reembed.done()):
            self._reembed = asyncio.get_running_loop().create_task(self.index.reembed_pending())

    async def lookup(
        self, scope: str, text: str, k: int = 4, via: str = "handle"
    ) -> list[Candidate]:
        """Up to ``k`` neighbours of ``text`` in ``scope``, best first."""
        t0 = time.perf_counter()
        self._start_reembed()
        found = await self.index.lookup(scope, text, k)
        self._timings.note("lookup", total_ms=(time.perf_counter() - t0) * 1000,
                           found=len(found), via=via)  # fmt: skip
        return found

    async def _lane_lookup(self, scope: str, text: str, k: int) -> list[Candidate]:
        return await self.lookup(scope, text, k, via="lane")

    async def lane(self) -> dict[str, Any]:
        """Where an ingress on this node can look up without a Ray hop (see
        ``serve/cache_lane.py``): this node's id, the loopback port and the token."""
        port = await self._lane.start()
        return {"node": node_id(), "port": port, "token": self._lane.token}

    async def add(self, scope: str, text: str, key: str, expires_at: float) -> None:
        """Index ``text`` as entry ``key`` until ``expires_at``."""
        self._start_reembed()
        await self.index.add(scope, text, key, expires_at)

    async def remove(self, keys: list[str]) -> None:
        """Forget entries the store evicted or cleared."""
        await self.index.remove(keys)

    async def stats(self) -> dict[str, Any]:
        """Entries, scopes, largest scope, evictions, graphs in use."""
        return self.index.stats()

    def __del__(self) -> None:
        # Serve calls this on a graceful shutdown: write a snapshot, close the journal
        lane = getattr(self, "_lane", None)
        if lane is not None:
            lane.close()
        index = getattr(self, "index", None)
        if index is not None:
            index.close()


def node_id() -> str | None:
    """This process's Ray node id (None outside Ray: one process, one "node")."""
    import ray

    return ray.get_runtime_context().get_node_id() if ray.is_initialized() else None


def _build_encoder(target: dict[str, Any], precision: str) -> Any:
    """The target's engine (the Embedder deployment's factory) behind the index's graph."""
    from workbench.cache._index_encoder import IndexEncoder, effective_precision
    from workbench.providers.replicas import build_replica_engine

    engine = build_replica_engine(target, "embeddings")
    return IndexEncoder(engine, effective_precision(target, precision))


def _timed(encode: Callable[[list[str]], Any], texts: list[str]) -> tuple[Any, float, float]:
    started = time.perf_counter()
    vectors = encode(texts)
    return vectors, started, time.perf_counter()


class Timings:
    """Per-lookup timings as JSON lines in ``$WORKBENCH_CACHE_TIMINGS`` (a benchmark sets
    it to see where a semantic hit's time goes inside this replica); off when unset."""

    ENV = "WORKBENCH_CACHE_TIMINGS"

    def __init__(self, path: str | None) -> None:
        self._fh = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115

    @classmethod
    def from_env(cls) -> Timings:
        """Timings to ``$WORKBENCH_CACHE_TIMINGS``, or off."""
        return cls(os.environ.get(cls.ENV, "").strip() or None)

    def note(self, kind: str, **fields: float | str) -> None:
        """Append one line (``kind``, wall time, ``fields``: numbers rounded) and flush."""
        if self._fh is not None:
            values = {k: v if isinstance(v, str) else round(v, 3) for k, v in fields.items()}
            line = {"kind": kind, "t": time.time(), **values}
            self._fh.write(json.dumps(line) + "\n")
            self._fh.flush()


#: ``WORKBENCH_CACHE_LANE=off``: semantic lookups always take the handle (a benchmark's
#: side-by-side; the lane is on by default).
LANE_ENV = "WORKBENCH_CACHE_LANE"


class HandleSemanticIndex:
    """:class:`~workbench.cache._types.SemanticIndex` over the ``CacheIndex`` handle.

    Lookups take the replica's loopback lane when it runs on this node (one socket round
    trip instead of a Ray hop; ``serve/cache_lane.py``), else the handle. When the lane
    fails (the replica restarted elsewhere, a timeout) the lookup goes over the handle and
    a new lane is asked for after ``LANE_RETRY_S``."""

    LANE_RETRY_S = 5.0

    def __init__(self, handle: Any, lane: bool = True) -> None:
        """Wrap a ``DeploymentHandle`` of :class:`CacheIndex` (``lane``: try the direct lane)."""
        self._handle = handle
        self._use_lane = lane
        self._lane: LaneClient | None = None
        self._lane_after = 0.0  # monotonic time before which no lane is asked for
        self.lane_lookups = 0  # lookups answered over the lane (tests, benchmarks)

    async def lookup(self, scope: str, text: str, k: int = 4) -> list[Candidate]:
        """Up to ``k`` neighbours of ``text`` in ``scope``, best first."""
        lane = await self._lane_client()
        if lane is not None:
            try:
                found = await lane.lookup(scope, text, k)
                self.lane_lookups += 1
                return found
            except LaneError:
                self._drop_lane()
        result: list[Candidate] = await self._handle.lookup.remote(scope, text, k)
        return result

    async def _lane_client(self) -> LaneClient | None:
        if self._lane is not None and not self._lane.broken:
            return self._lane
        if not self._use_lane or time.monotonic() < self._lane_after:
            return None
        self._lane_after = time.monotonic() + self.LANE_RETRY_S
        try:
            info = await self._handle.lane.remote()
        except Exception:  # an older replica, or it is restarting: the handle it is
            return None
        if info.get("node") != node_id():
            return None  # the replica is on another node: its loopback is not ours
        self._lane = LaneClient(int(info["port"]), str(info["token"]))
        return self._lane

    def _drop_lane(self) -> None:
        if self._lane is not None:
            self._lane.close()
        self._lane = None
        self._lane_after = time.monotonic() + self.LANE_RETRY_S

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


__all__ = ["LANE_ENV", "CacheIndex", "HandleSemanticIndex"]
