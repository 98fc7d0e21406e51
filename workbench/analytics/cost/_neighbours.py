"""Exact cosine neighbours among unit vectors by blocked matrix products (numpy).

For ``m`` vectors ordered by time, :func:`earlier_neighbours` yields, for each vector,
the earlier vectors whose cosine with it is at least ``threshold``. Work is one
``(block x i)`` product per block of rows, so memory stays at ``block * m`` floats and
the whole search is ``m^2 / 2`` dot products: exact (no index to build, nothing to
tune) and fast up to a few hundred thousand vectors per scope (see docs/cost.md).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

BLOCK = 2048


def earlier_neighbours(
    vectors: np.ndarray, threshold: float, block: int = BLOCK
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(i, js, cosines)`` for every ``i`` with at least one earlier ``j < i``
    whose cosine is ``>= threshold``; ``js`` ascending."""
    m = len(vectors)
    vecs = np.ascontiguousarray(vectors, dtype=np.float32)
    for lo in range(0, m, block):
        hi = min(lo + block, m)
        sims = vecs[lo:hi] @ vecs[:hi].T  # rows lo..hi against every vector up to hi
        rows, cols = np.nonzero(sims >= threshold)
        keep = cols < rows + lo  # only strictly earlier vectors
        rows, cols = rows[keep], cols[keep]
        if not len(rows):
            continue
        values = sims[rows, cols]
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        for s, e in zip(starts, ends, strict=True):
            yield int(rows[s]) + lo, cols[s:e], values[s:e]
