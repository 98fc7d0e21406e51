"""One scope's vectors: exact numpy search while small, an HNSW graph once large.

Each scope (``match.scope_key``) has its own shard, so a lookup can only ever see its own
scope's entries (no filter to get wrong) and its cost does not depend on how many other
scopes exist. Rows are appended; a replaced or removed entry leaves a tombstone that
searches skip, and the shard compacts itself once tombstones outnumber a quarter of it.

Graphs are built in a background thread (a 100k-row graph takes minutes on a busy
2-core machine): until it is ready the shard answers by exact search, then the graph
catches up with the rows added meanwhile. Every method runs under the shard's ``lock``
(the index's lock), which the builder also takes to install its graph.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from workbench.cache._index_ann import AnnGraph

ANN_MIN_ROWS = 4096
"""A shard switches from exact search to the HNSW graph at this many rows."""

_OVERSAMPLE = 4  # graph candidates per wanted neighbour (tombstones and expired rows)


@dataclass(frozen=True)
class Hit:
    """A neighbour found in a shard."""

    key: str
    similarity: float
    text: str


class Shard:
    """The rows of one scope: keys, texts, expiry times, unit vectors."""

    def __init__(
        self, dim: int, ann_min_rows: int = ANN_MIN_ROWS, lock: threading.RLock | None = None
    ) -> None:
        """An empty shard for ``dim``-dimensional unit vectors."""
        self.dim = dim
        self.ann_min_rows = ann_min_rows
        self.lock = lock or threading.RLock()
        self._generation = 0  # bumped when rows are renumbered (a running build is stale)
        self._builder: threading.Thread | None = None
        self._vecs = np.zeros((16, dim), dtype=np.float32)
        self._expires = np.zeros(16, dtype=np.float64)
        self._alive = np.zeros(16, dtype=bool)
        self._keys: list[str] = []
        self._texts: list[str] = []
        self._row: dict[str, int] = {}
        self._graph: AnnGraph | None = None

    # ------------------------------------------------------------------ bookkeeping
    @property
    def rows(self) -> int:
        """Rows including tombstones."""
        return len(self._keys)

    def __len__(self) -> int:
        return len(self._row)

    def __contains__(self, key: str) -> bool:
        return key in self._row

    def items(self) -> list[tuple[str, str, float, np.ndarray]]:
        """The live rows as ``(key, text, expires_at, vector)``, oldest first."""
        return [
            (self._keys[r], self._texts[r], float(self._expires[r]), self._vecs[r])
            for r in sorted(self._row.values())
        ]

    def _grow(self) -> None:
        cap = len(self._expires) * 2
        vecs = np.zeros((cap, self.dim), dtype=np.float32)
        vecs[: self.rows] = self._vecs[: self.rows]
        self._vecs = vecs
        self._expires = np.resize(self._expires, cap)
        alive = np.zeros(cap, dtype=bool)
        alive[: self.rows] = self._alive[: self.rows]
        self._alive = alive

    # ------------------------------------------------------------------ mutation
    def add(self, key: str, text: str, expires_at: float, vector: np.ndarray) -> None:
        """Index ``vector`` as entry ``key`` (replacing its previous row)."""
        self.remove(key)
        if self.rows == len(self._expires):
            self._grow()
        row = self.rows
        self._vecs[row] = vector
        self._expires[row] = expires_at
        self._alive[row] = True
        self._keys.append(key)
        self._texts.append(text)
        self._row[key] = row
        if self._graph is not None:
            self._graph.add(self._vecs[row : row + 1])
        elif self.rows >= self.ann_min_rows:
            self._start_build()

    def remove(self, key: str) -> bool:
        """Tombstone ``key``'s row; compacts when a quarter of the rows are dead."""
        row = self._row.pop(key, None)
        if row is None:
            return False
        self._alive[row] = False
        dead = self.rows - len(self._row)
        if dead > 64 and dead * 4 > self.rows:
            self.compact()
        return True

    def expired(self, now: float) -> list[str]:
        """Keys of live rows whose ``expires_at`` is past."""
        n = self.rows
        rows = np.flatnonzero(self._alive[:n] & (self._expires[:n] <= now))
        return [self._keys[r] for r in rows]

    def compact(self) -> None:
        """Drop tombstones (and rebuild the graph over the live rows)."""
        live = self.items()
        keys = [k for k, *_ in live]
        texts = [t for _, t, _, _ in live]
        expires = np.array([e for *_, e, _ in live], dtype=np.float64)
        vecs = np.stack([v for *_, v in live]) if live else np.zeros((0, self.dim), np.float32)
        self._bulk(keys, texts, expires, vecs)

    def _bulk(
        self, keys: list[str], texts: list[str], expires: np.ndarray, vecs: np.ndarray
    ) -> None:
        n = len(keys)
        cap = max(16, 1 << max(n - 1, 0).bit_length())
        self._vecs = np.zeros((cap, self.dim), dtype=np.float32)
        self._vecs[:n] = vecs
        self._expires = np.zeros(cap, dtype=np.float64)
        self._expires[:n] = expires
        self._alive = np.zeros(cap, dtype=bool)
        self._alive[:n] = True
        self._keys, self._texts = list(keys), list(texts)
        self._row = {k: i for i, k in enumerate(keys)}
        self._graph = None
        self._generation += 1
        self._builder = None
        if n >= self.ann_min_rows:
            self._start_build()

    def load(
        self, keys: list[str], texts: list[str], expires: np.ndarray, vecs: np.ndarray
    ) -> None:
        """Replace the contents with these rows at once (distinct keys)."""
        self._bulk(keys, texts, expires, vecs)

    @property
    def graph_ready(self) -> bool:
        """Whether searches use the HNSW graph."""
        return self._graph is not None

    def wait_for_graph(self, timeout: float | None = None) -> None:
        """Block until a running graph build has finished (tests, benchmarks)."""
        builder = self._builder
        if builder is not None:
            builder.join(timeout)

    def _start_build(self) -> None:
        if self._builder is not None and self._builder.is_alive():
            return
        rows, generation = self.rows, self._generation
        vecs = self._vecs[:rows].copy()
        self._builder = threading.Thread(
            target=self._build, args=(vecs, generation), name="cache-index-graph", daemon=True
        )
        self._builder.start()

    def _build(self, vecs: np.ndarray, generation: int) -> None:
        graph = AnnGraph(self.dim)
        graph.add(vecs)
        with self.lock:
            if generation != self._generation:
                return  # rows renumbered meanwhile (compaction started its own build)
            graph.add(self._vecs[graph.size : self.rows])  # rows added during the build
            self._graph = graph

    # ------------------------------------------------------------------ search
    def search(self, query: np.ndarray, k: int, now: float) -> list[Hit]:
        """Up to ``k`` live, unexpired rows nearest to ``query``, best first."""
        if not self._row or k <= 0:
            return []
        if self._graph is not None:
            hits = self._graph_search(query, k, now)
            if len(hits) >= min(k, len(self._row)):
                return hits
        return self._exact_search(query, k, now)

    def _usable(self, rows: np.ndarray, now: float) -> np.ndarray:
        return self._alive[rows] & (self._expires[rows] > now)

    def _graph_search(self, query: np.ndarray, k: int, now: float) -> list[Hit]:
        assert self._graph is not None
        rows, sims = self._graph.search(query, k * _OVERSAMPLE)
        keep = self._usable(rows, now)
        return [self._hit(int(r), float(s)) for r, s in zip(rows[keep], sims[keep], strict=True)][
            :k
        ]

    def _exact_search(self, query: np.ndarray, k: int, now: float) -> list[Hit]:
        n = self.rows
        sims = self._vecs[:n] @ query.astype(np.float32)
        sims[~self._usable(np.arange(n), now)] = -np.inf
        k = min(k, n)
        top = np.argpartition(-sims, k - 1)[:k]
        top = top[np.argsort(-sims[top], kind="stable")]
        return [self._hit(int(r), float(sims[r])) for r in top if np.isfinite(sims[r])]

    def _hit(self, row: int, sim: float) -> Hit:
        return Hit(key=self._keys[row], similarity=min(sim, 1.0), text=self._texts[row])


__all__ = ["ANN_MIN_ROWS", "Hit", "Shard"]
