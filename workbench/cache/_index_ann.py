"""The approximate nearest-neighbour graph behind a large scope (faiss HNSW, inner product).

Chosen by measurement (``python -m bench._cache_backends``; figures in
``docs/cache-semantic.md``): at 100k MiniLM-sized vectors faiss' ``IndexHNSWFlat`` built
fastest and answered fastest among usearch, hnswlib and faiss with the same recall, it
installs as a wheel (hnswlib compiles from source; DuckDB ``vss`` must be downloaded at
run time and its HNSW persistence is experimental with no crash recovery). It cannot
delete: the shard keeps tombstones and rebuilds the graph when too many rows are dead,
which the other libraries do internally too (hnswlib ``mark_deleted``).

The graph is never persisted: the journal and snapshot hold the vectors, and a large
scope rebuilds its graph when it is loaded (seconds for 100k rows).
"""

from __future__ import annotations

from typing import Any

import numpy as np

M = 16  # graph degree
EF_CONSTRUCTION = 64
EF_SEARCH = 64

_THREADS_SET = False


def _faiss() -> Any:
    global _THREADS_SET
    import faiss

    if not _THREADS_SET:
        # one query at a time: OpenMP threads only contend with the event loop
        faiss.omp_set_num_threads(1)
        _THREADS_SET = True
    return faiss


class AnnGraph:
    """An HNSW graph over rows ``0..n-1`` of a shard's vector matrix."""

    def __init__(self, dim: int) -> None:
        """An empty graph for unit vectors of ``dim`` dimensions (cosine = inner product)."""
        faiss = _faiss()
        self._index = faiss.IndexHNSWFlat(dim, M, faiss.METRIC_INNER_PRODUCT)
        self._index.hnsw.efConstruction = EF_CONSTRUCTION
        self._index.hnsw.efSearch = EF_SEARCH

    @property
    def size(self) -> int:
        """Rows in the graph (ids are the rows, in insertion order)."""
        return int(self._index.ntotal)

    def add(self, vectors: np.ndarray) -> None:
        """Append rows; their ids continue from :attr:`size`."""
        if len(vectors):
            self._index.add(np.ascontiguousarray(vectors, dtype=np.float32))

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Up to ``k`` (rows, inner products) nearest to ``query``, best first."""
        k = min(k, self.size)
        if k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        q = np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32)
        sims, rows = self._index.search(q, k)
        keep = rows[0] >= 0
        return rows[0][keep], sims[0][keep]


__all__ = ["EF_CONSTRUCTION", "EF_SEARCH", "M", "AnnGraph"]
