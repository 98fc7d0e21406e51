"""Bootstrap confidence intervals for the confusion-matrix metrics (seeded, vectorised).

Resampling ``n`` items with replacement only changes how many items fall in each cell of
the confusion matrix, and those counts follow a multinomial law with the observed cell
shares: one ``rng.multinomial`` call draws every resample at once, exactly the
distribution an item-level bootstrap gives, at O(resamples) cost whatever ``n`` is.
The paired version draws the joint cells (label, prediction A, prediction B), so both
policies see the same resampled items and the CI of their difference is paired.

Intervals are percentile intervals; resamples where a ratio is undefined (no predicted
positives, say) are left out of that ratio's interval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from workbench.analytics.evaluation._metrics import from_counts

#: Metrics that get an interval.
CI_METRICS = ("precision", "recall", "f1", "fpr")
DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 0


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    ok = samples[np.isfinite(samples)]
    if not ok.size:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    lo, hi = np.percentile(ok, [tail, 100.0 - tail])
    return float(lo), float(hi)


def _cells(y_true: Sequence[int] | np.ndarray, *preds: Sequence[int] | np.ndarray) -> np.ndarray:
    """Cell index of each item: label bit, then one bit per prediction."""
    idx = np.asarray(y_true, dtype=np.int64).astype(bool).astype(np.int64)
    for p in preds:
        idx = idx * 2 + np.asarray(p, dtype=bool).astype(np.int64)
    return idx


def _draw(cells: np.ndarray, k: int, resamples: int, seed: int) -> np.ndarray:
    """``(resamples, k)`` cell counts of item-level resamples of ``cells``."""
    n = cells.size
    counts = np.bincount(cells, minlength=k).astype(np.float64)
    rng = np.random.default_rng(seed)
    return rng.multinomial(n, counts / n, size=resamples)


def bootstrap_ci(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    metrics: Sequence[str] = CI_METRICS,
) -> dict[str, tuple[float, float]]:
    """``{metric: (low, high)}``: percentile bootstrap intervals of binary metrics."""
    cells = _cells(y_true, y_pred)
    if not cells.size:
        return {m: (float("nan"), float("nan")) for m in metrics}
    draws = _draw(cells, 4, resamples, seed)  # columns: tn, fp, fn, tp (label*2 + pred)
    rates = from_counts(draws[:, 3], draws[:, 1], draws[:, 2], draws[:, 0])
    return {m: _interval(np.asarray(rates[m]), level) for m in metrics}


_LABEL = (np.arange(8) // 4).astype(bool)


def _side(joint: np.ndarray, bit: int) -> dict[str, Any]:
    """Metrics of one side (``bit`` 2: A, 1: B) from ``(m, 8)`` joint cell counts."""
    pred = (np.arange(8) & bit).astype(bool)

    def tot(mask: np.ndarray) -> np.ndarray:
        return joint[:, mask].sum(axis=1)

    return from_counts(
        tot(_LABEL & pred), tot(~_LABEL & pred), tot(_LABEL & ~pred), tot(~_LABEL & ~pred)
    )


def paired_bootstrap(
    y_true: Sequence[int] | np.ndarray,
    pred_a: Sequence[int] | np.ndarray,
    pred_b: Sequence[int] | np.ndarray,
    *,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    level: float = 0.95,
    metrics: Sequence[str] = CI_METRICS,
) -> dict[str, dict[str, Any]]:
    """Per metric: ``{a, b, delta, low, high}``: B minus A with a paired percentile CI.

    ``a``, ``b`` and ``delta`` are the point estimates on the items as given.
    """
    cells = _cells(y_true, pred_a, pred_b)  # label*4 + a*2 + b
    point = np.bincount(cells, minlength=8)[None, :]
    draws = _draw(cells, 8, resamples, seed) if cells.size else point[:0]
    out: dict[str, dict[str, Any]] = {}
    for m in metrics:
        a = float(np.asarray(_side(point, 2)[m])[0])
        b = float(np.asarray(_side(point, 1)[m])[0])
        diff = np.asarray(_side(draws, 1)[m]) - np.asarray(_side(draws, 2)[m])
        lo, hi = _interval(diff, level) if diff.size else (float("nan"), float("nan"))
        out[m] = {"a": a, "b": b, "delta": b - a, "low": lo, "high": hi}
    return out


__all__ = ["CI_METRICS", "DEFAULT_RESAMPLES", "DEFAULT_SEED", "bootstrap_ci", "paired_bootstrap"]
