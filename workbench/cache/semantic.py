"""The semantic index: MiniLM vectors of cached conversations, per scope, persisted.

:class:`LocalSemanticIndex` implements :class:`~workbench.cache._types.SemanticIndex`
in-process (a notebook, a test, or the one Ray Serve replica of
``serve/cache_index.py`` that every ingress replica shares).

- **Scopes.** One shard per ``match.scope_key``: a lookup searches only its scope's rows,
  so it can never return another scope's entry, and many scopes cost nothing per lookup.
- **Search.** Exact numpy search while a scope is small, a faiss HNSW graph from
  :data:`~workbench.cache._index_shard.ANN_MIN_ROWS` rows (``_index_ann.py`` says why
  faiss; ``docs/cache-semantic.md`` has the measurements).
- **Eviction.** Expired rows (``expires_at``) are never returned and are purged as the
  index fills; past ``max_entries`` the oldest additions go; :meth:`remove` forgets
  the store's evictions.
- **Persistence.** ``$WORKBENCH_HOME/cache/semantic/``: snapshot + journal
  (``_index_journal.py``): a crash loses at most the last change, never the rest.
- **Embeddings.** An injected ``embed(texts)``: sync (run in a worker thread) or async,
  returning an ``(n, dim)`` array or an ``EmbeddingResult`` (the Ray Embedder's answer).
  Lookups that arrive while an embedding is in flight are embedded together in the next
  call (one batch per event loop; ``coalesce=False`` turns this off).
- **One graph per index.** ``encoder`` names the graph ``embed`` runs
  (``_index_encoder.graph_id``); every persisted row records it. Rows of another graph
  (or unnamed, from before ids were recorded) are never searched: with
  ``on_mismatch="rebuild"`` they wait in :attr:`pending` until :meth:`reembed_pending`
  embeds their texts again with this index's graph; with ``"refuse"`` opening raises
  :class:`EncoderMismatchError`.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np

from workbench.cache._index_batcher import Batcher
from workbench.cache._index_journal import Journal, Row
from workbench.cache._index_shard import ANN_MIN_ROWS, Shard
from workbench.cache._types import Candidate, Entry

EmbedFn = Callable[[list[str]], "np.ndarray | Awaitable[Any] | Any"]
DIM = 384
_EMBED_MEMO = 1024  # texts whose vector is kept (a miss's lookup, then its add)
_PURGE_EVERY = 1000  # additions between sweeps for expired rows


class EncoderMismatchError(RuntimeError):
    """The index directory holds vectors of another graph than this index embeds with."""


def default_directory() -> Path:
    """``$WORKBENCH_HOME/cache/semantic``."""
    from workbench.home import home

    return home() / "cache" / "semantic"


def _as_matrix(result: Any, n: int, dim: int) -> np.ndarray:
    vectors = getattr(result, "vectors", result)  # EmbeddingResult or an array
    mat = np.asarray(vectors, dtype=np.float32).reshape(n, dim)
    norms = np.linalg.norm(mat, axis=1, keepdims=True)
    return mat / np.where(norms > 0, norms, 1.0)


class LocalSemanticIndex:
    """Per-scope nearest cached conversations (see the module docstring)."""

    def __init__(
        self,
        embed: EmbedFn,
        *,
        directory: Path | str | None = None,
        persist: bool = True,
        dim: int = DIM,
        max_entries: int = 100_000,
        snapshot_every: int = 20_000,
        ann_min_rows: int = ANN_MIN_ROWS,
        clock: Callable[[], float] = time.time,
        coalesce: bool = True,
        encoder: str = "",
        on_mismatch: str = "rebuild",
    ) -> None:
        """Open (or create) the index; ``persist=False`` keeps it in memory only;
        ``coalesce=False`` embeds every concurrent lookup on its own; ``encoder``: the id
        of the graph ``embed`` runs, ``on_mismatch``: ``rebuild`` or ``refuse`` persisted
        rows of another graph (module docstring)."""
        if on_mismatch not in ("rebuild", "refuse"):
            raise ValueError(f"on_mismatch must be 'rebuild' or 'refuse', got {on_mismatch!r}")
        self._embed = embed
        self.encoder, self.on_mismatch = encoder, on_mismatch
        self.pending: dict[str, Row] = {}  # persisted rows of another graph, to re-embed
        self.coalesce = coalesce
        self._batchers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Batcher] = (
            weakref.WeakKeyDictionary()
        )
        self.dim, self.max_entries, self.snapshot_every = dim, max_entries, snapshot_every
        self.ann_min_rows, self._clock = ann_min_rows, clock
        self._shards: dict[str, Shard] = {}
        self._order: OrderedDict[str, str] = OrderedDict()  # key -> scope, oldest first
        self._memo: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.RLock()
        self._since_purge = 0
        self.evicted = 0
        self._journal: Journal | None = None
        if persist:
            self._journal = Journal(Path(directory or default_directory()), dim)
            self._restore(self._journal.load().values())

    # ------------------------------------------------------------------ protocol
    async def lookup(self, scope: str, text: str, k: int = 4) -> list[Candidate]:
        """Up to ``k`` live neighbours of ``text`` in ``scope``, best first."""
        with self._lock:
            if scope not in self._shards:
                return []  # nothing to compare with: no embedding needed
        vec = await self.vector(text)
        return self.lookup_vector(scope, vec, k)

    async def add(self, scope: str, text: str, key: str, expires_at: float) -> None:
        """Index ``text`` as entry ``key``'s conversation until ``expires_at``."""
        vec = await self.vector(text)
        self.add_vector(scope, text, key, expires_at, vec)

    async def remove(self, keys: list[str]) -> None:
        """Forget entries (evicted or cleared in the store)."""
        self.remove_keys(keys)

    # ------------------------------------------------------------------ embeddings
    async def embed_many(self, texts: list[str]) -> np.ndarray:
        """Unit vectors of ``texts`` from the injected ``embed``."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        if inspect.iscoroutinefunction(self._embed):
            result = await self._embed(texts)
        else:
            result = await asyncio.to_thread(self._embed, texts)
            if inspect.isawaitable(result):
                result = await result
        return _as_matrix(result, len(texts), self.dim)

    async def vector(self, text: str) -> np.ndarray:
        """The unit vector of one text (memoised for the last few texts).

        Concurrent calls are coalesced: texts asked for while an embedding call is in
        flight go to the next call together (one batch, each distinct text once), so
        that requests arriving together share one encoder pass instead of queueing.
        """
        with self._lock:
            hit = self._memo.get(text)
            if hit is not None:
                self._memo.move_to_end(text)
                return hit
        if self.coalesce:
            vec = await self._batcher().vector(text)
        else:
            vec = (await self.embed_many([text]))[0]
        with self._lock:
            self._memo[text] = vec
            while len(self._memo) > _EMBED_MEMO:
                self._memo.popitem(last=False)
        return vec

    def _batcher(self) -> Batcher:
        loop = asyncio.get_running_loop()
        batcher = self._batchers.get(loop)
        if batcher is None:
            batcher = self._batchers[loop] = Batcher(self.embed_many)
        return batcher

    # ------------------------------------------------------------------ sync core
    def lookup_vector(self, scope: str, vector: np.ndarray, k: int = 4) -> list[Candidate]:
        """:meth:`lookup` with the vector already computed."""
        with self._lock:
            shard = self._shards.get(scope)
            if shard is None:
                return []
            hits = shard.search(np.asarray(vector, dtype=np.float32), k, self._clock())
        return [Candidate(key=h.key, similarity=h.similarity, text=h.text) for h in hits]

    def add_vector(
        self, scope: str, text: str, key: str, expires_at: float, vector: np.ndarray
    ) -> None:
        """:meth:`add` with the vector already computed."""
        with self._lock:
            self.pending.pop(key, None)  # a stale row of this key is superseded
            old = self._order.pop(key, None)
            if old is not None and old != scope:
                self._drop(old, key)
            shard = self._shards.get(scope)
            if shard is None:
                shard = self._shards[scope] = Shard(self.dim, self.ann_min_rows, self._lock)
            vec = np.asarray(vector, dtype=np.float32)
            shard.add(key, text, expires_at, vec)
            self._order[key] = scope
            if self._journal is not None:
                self._journal.add(Row(key, scope, text, expires_at, vec, self.encoder))
            self._enforce_bounds()
            self._maybe_snapshot()

    def add_vectors(
        self,
        scope: str,
        texts: list[str],
        keys: list[str],
        expires_at: np.ndarray,
        vectors: np.ndarray,
    ) -> None:
        """Many :meth:`add_vector` at once; a new scope gets one graph build, not ``n``."""
        with self._lock:
            if scope in self._shards or len(set(keys)) != len(keys) or self._journal is not None:
                for i, key in enumerate(keys):
                    self.add_vector(scope, texts[i], key, float(expires_at[i]), vectors[i])
                return
            self.remove_keys(keys)  # a key indexed in another scope moves here
            shard = self._shards[scope] = Shard(self.dim, self.ann_min_rows, self._lock)
            shard.load(
                list(keys),
                list(texts),
                np.asarray(expires_at, dtype=np.float64),
                np.asarray(vectors, dtype=np.float32),
            )
            for key in keys:
                self._order[key] = scope
            self._enforce_bounds()

    def remove_keys(self, keys: Iterable[str]) -> int:
        """Forget ``keys``; returns how many were indexed."""
        gone = []
        with self._lock:
            for key in keys:
                scope = self._order.pop(key, None)
                if scope is not None:
                    self._drop(scope, key)
                    gone.append(key)
                elif self.pending.pop(key, None) is not None:
                    gone.append(key)
            if self._journal is not None and gone:
                self._journal.remove(gone)
                self._maybe_snapshot()
        return len(gone)

    def _drop(self, scope: str, key: str) -> None:
        shard = self._shards.get(scope)
        if shard is not None:
            shard.remove(key)
            if not len(shard):
                del self._shards[scope]

    def _enforce_bounds(self) -> None:
        self._since_purge += 1
        if self._since_purge >= _PURGE_EVERY:
            self.purge_expired()
        over = len(self._order) - self.max_entries
        if over > 0:
            oldest = [k for k, _ in zip(self._order, range(over), strict=False)]
            self.evicted += self.remove_keys(oldest)

    def purge_expired(self) -> int:
        """Forget every expired row now; returns how many."""
        with self._lock:
            self._since_purge = 0
            now = self._clock()
            gone = [k for shard in list(self._shards.values()) for k in shard.expired(now)]
            return self.remove_keys(gone)

    # ------------------------------------------------------------------ persistence
    def _restore(self, rows: Iterable[Row]) -> None:
        now = self._clock()
        by_scope: dict[str, list[Row]] = {}
        for row in rows:
            if row.expires_at <= now:
                continue
            if row.encoder != self.encoder:
                self.pending[row.key] = row
            else:
                by_scope.setdefault(row.scope, []).append(row)
        if self.pending and self.on_mismatch == "refuse":
            found = sorted({r.encoder or "(unnamed)" for r in self.pending.values()})
            raise EncoderMismatchError(
                f"the semantic index holds {len(self.pending)} vectors of {', '.join(found)}, "
                f"not of {self.encoder or '(unnamed)'}: rebuild it (on_mismatch='rebuild' "
                "re-embeds their texts) or clear it"
            )
        for scope, group in by_scope.items():
            shard = Shard(self.dim, self.ann_min_rows, self._lock)
            shard.load(
                [r.key for r in group],
                [r.text for r in group],
                np.array([r.expires_at for r in group]),
                np.stack([r.vector for r in group]),
            )
            self._shards[scope] = shard
            for r in group:
                self._order[r.key] = scope

    def _maybe_snapshot(self) -> None:
        if self._journal is not None and self._journal.records >= self.snapshot_every:
            self.save()

    def save(self) -> None:
        """Write a snapshot of every live row now (and empty the journal)."""
        with self._lock:
            if self._journal is None:
                return
            rows = [
                Row(key, scope, text, exp, vec, self.encoder)
                for scope, shard in self._shards.items()
                for key, text, exp, vec in shard.items()
            ]
            self._journal.snapshot(rows + list(self.pending.values()))

    def close(self) -> None:
        """Snapshot and close the journal."""
        self.save()
        if self._journal is not None:
            self._journal.close()

    async def reembed_pending(self, batch: int = 16) -> int:
        """Embed the texts of :attr:`pending` rows (another graph's) with this index's
        graph and index them, ``batch`` at a time, yielding in between; returns how many.
        A row removed or replaced meanwhile is left alone; on an error the rest stay
        pending (and persisted)."""
        done = 0
        while True:
            with self._lock:
                now = self._clock()
                for key in [k for k, r in self.pending.items() if r.expires_at <= now]:
                    del self.pending[key]
                chunk = list(self.pending.values())[:batch]
            if not chunk:
                return done
            vecs = await self.embed_many([r.text for r in chunk])
            with self._lock:
                for row, vec in zip(chunk, vecs, strict=True):
                    if self.pending.get(row.key) is row:
                        self.add_vector(row.scope, row.text, row.key, row.expires_at, vec)
                        done += 1
            await asyncio.sleep(0)

    async def rebuild(self, entries: Iterable[Entry], batch: int = 256) -> int:
        """Index every live entry of a store that has a ``text`` (after a lost index)."""
        now = self._clock()
        todo = [e for e in entries if e.text and e.expires_at > now and e.key not in self]
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            vecs = await self.embed_many([str(e.text) for e in chunk])
            for e, v in zip(chunk, vecs, strict=True):
                self.add_vector(e.scope, str(e.text), e.key, e.expires_at, v)
        return len(todo)

    # ------------------------------------------------------------------ introspection
    def __len__(self) -> int:
        return len(self._order)

    def __contains__(self, key: object) -> bool:
        return key in self._order

    def wait_for_graphs(self, timeout: float | None = None) -> None:
        """Block until every background graph build has finished (tests, benchmarks)."""
        for shard in list(self._shards.values()):
            shard.wait_for_graph(timeout)

    def stats(self) -> dict[str, Any]:
        """Entries, scopes, the largest scope, evictions, whether graphs are in use."""
        with self._lock:
            sizes = [len(s) for s in self._shards.values()]
            return {
                "entries": len(self._order),
                "scopes": len(self._shards),
                "largest_scope": max(sizes, default=0),
                "graphs": sum(s.graph_ready for s in self._shards.values()),
                "evicted": self.evicted,
                "max_entries": self.max_entries,
                "persisted": self._journal is not None,
                "encoder": self.encoder,
                "pending_reembed": len(self.pending),
            }

    def clear(self) -> int:
        """Forget everything (pending rows too); returns how many entries were indexed."""
        return self.remove_keys([*self._order, *self.pending])


__all__ = ["DIM", "EmbedFn", "EncoderMismatchError", "LocalSemanticIndex", "default_directory"]
