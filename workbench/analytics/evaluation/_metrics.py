"""The one implementation of the classification metrics the project reports.

Binary metrics come from the four cells of a confusion matrix: :func:`from_counts` takes
counts (scalars or numpy arrays, so a bootstrap computes every resample at once),
:func:`confusion` counts them from labels and predictions, :func:`binary` from scores at
a threshold (``score >= t`` flags). Also: the F1-maximising threshold and ROC AUC (used
by training), span overlap metrics (PII), and a percentile helper.

Undefined ratios (no predicted positives for precision, no positives for recall, no
negatives for the false-positive rate) are ``zero_division``: NaN by default in reports
(shown as "-"), 0.0 where training code compares thresholds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: The metrics :func:`from_counts` returns besides the counts, in report order.
RATES = ("precision", "recall", "f1", "fpr", "accuracy")


def _ratio(num: Any, den: Any, zero_division: float) -> Any:
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(den > 0, num / np.where(den > 0, den, 1.0), zero_division)
    return out if out.ndim else float(out)


def from_counts(
    tp: Any, fp: Any, fn: Any, tn: Any, *, zero_division: float = float("nan")
) -> dict[str, Any]:
    """Precision, recall, F1, FPR and accuracy from confusion counts.

    Counts may be numpy arrays of equal shape (one value per bootstrap resample): the
    result then holds arrays. F1 is ``2tp / (2tp + fp + fn)`` (the harmonic mean of
    precision and recall), undefined only when there is nothing to find and nothing found.
    """
    tp, fp, fn, tn = (np.asarray(x, dtype=np.float64) for x in (tp, fp, fn, tn))
    return {
        "precision": _ratio(tp, tp + fp, zero_division),
        "recall": _ratio(tp, tp + fn, zero_division),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn, zero_division),
        "fpr": _ratio(fp, fp + tn, zero_division),
        "accuracy": _ratio(tp + tn, tp + fp + fn + tn, zero_division),
    }


def confusion(
    y_true: Sequence[int] | np.ndarray, y_pred: Sequence[int] | np.ndarray
) -> dict[str, int]:
    """``{tp, fp, fn, tn}`` of boolean (0/1) labels and predictions."""
    yt = np.asarray(y_true, dtype=bool)
    yp = np.asarray(y_pred, dtype=bool)
    if yt.shape != yp.shape:
        raise ValueError(f"labels {yt.shape} and predictions {yp.shape} differ in shape")
    return {
        "tp": int((yt & yp).sum()),
        "fp": int((~yt & yp).sum()),
        "fn": int((yt & ~yp).sum()),
        "tn": int((~yt & ~yp).sum()),
    }


def classification(
    y_true: Sequence[int] | np.ndarray,
    y_pred: Sequence[int] | np.ndarray,
    *,
    zero_division: float = float("nan"),
) -> dict[str, Any]:
    """``{n, support, tp, fp, fn, tn, precision, recall, f1, fpr, accuracy}``.

    ``support`` is the number of positives (label 1).
    """
    c = confusion(y_true, y_pred)
    n = sum(c.values())
    return {
        "n": n,
        "support": c["tp"] + c["fn"],
        **c,
        **from_counts(c["tp"], c["fp"], c["fn"], c["tn"], zero_division=zero_division),
    }


def binary(
    y: Sequence[int], scores: Sequence[float], threshold: float, *, zero_division: float = 0.0
) -> dict[str, float]:
    """Metrics of ``score >= threshold``: ``{n, positives, tp, fp, fn, tn, precision,
    recall, f1, fpr, accuracy}`` (undefined ratios 0.0 unless ``zero_division`` says)."""
    flagged = np.asarray(scores, dtype=np.float64) >= threshold
    m = classification(y, flagged, zero_division=zero_division)
    m["positives"] = m.pop("support")
    return m


def auc(y: Sequence[int], scores: Sequence[float]) -> float:
    """ROC AUC (NaN when only one class is present)."""
    from sklearn.metrics import roc_auc_score

    yt = np.asarray(y)
    if len(set(yt.tolist())) < 2:
        return float("nan")
    return float(roc_auc_score(yt, np.asarray(scores, dtype=np.float64)))


def best_f1_threshold(y: Sequence[int], scores: Sequence[float]) -> tuple[float, float]:
    """``(threshold, f1)`` maximising F1; the threshold sits halfway below the cut score.

    Candidates are the distinct scores; among equal F1s the highest threshold wins
    (fewer flags). The returned threshold is the midpoint between the chosen score and
    the next lower distinct score, so that the same items are flagged with a margin.
    """
    s = np.asarray(scores, dtype=np.float64)
    yt = np.asarray(y, dtype=bool)
    cands = np.unique(s)[::-1]  # descending
    best_f1, best_i = -1.0, 0
    for i, t in enumerate(cands):
        f1 = binary(yt.astype(int).tolist(), s.tolist(), float(t))["f1"]
        if f1 > best_f1 + 1e-12:
            best_f1, best_i = f1, i
    cut = float(cands[best_i])
    lower = float(cands[best_i + 1]) if best_i + 1 < len(cands) else 0.0
    return (cut + lower) / 2.0, best_f1


def _overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def _label_spans(
    gold: Sequence[Sequence[dict[str, Any]]],
    pred: Sequence[Sequence[dict[str, Any]]],
    lab: str,
) -> dict[str, float]:
    tp_p = fp = tp_g = fn = exact = covered = chars = 0
    for g_all, p_all in zip(gold, pred, strict=True):
        g = [(int(s["start"]), int(s["end"])) for s in g_all if s["label"] == lab]
        p = [(int(s["start"]), int(s["end"])) for s in p_all if s["label"] == lab]
        anyp = [(int(s["start"]), int(s["end"])) for s in p_all]
        for ps in p:
            if any(_overlaps(ps, gs) for gs in g):
                tp_p += 1
            else:
                fp += 1
        for gs in g:
            if any(_overlaps(ps, gs) for ps in p):
                tp_g += 1
            else:
                fn += 1
            exact += int(gs in p)
            chars += gs[1] - gs[0]
            covered += sum(1 for c in range(gs[0], gs[1]) if any(a <= c < b for a, b in anyp))
    precision = tp_p / (tp_p + fp) if tp_p + fp else 0.0
    recall = tp_g / (tp_g + fn) if tp_g + fn else 0.0
    return {
        "gold": tp_g + fn,
        "predicted": tp_p + fp,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "exact_recall": exact / (tp_g + fn) if tp_g + fn else 0.0,
        "char_coverage": covered / chars if chars else 0.0,
    }


def spans(
    gold: Sequence[Sequence[dict[str, Any]]],
    pred: Sequence[Sequence[dict[str, Any]]],
    labels: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Per label: overlap precision/recall/F1, exact recall, gold-character coverage.

    ``gold`` and ``pred`` hold, per text, dicts with ``start``, ``end``, ``label``. A
    predicted span is correct when it overlaps a gold span of its label; a gold span is
    found when a predicted span of its label overlaps it. Coverage counts gold characters
    inside any predicted span, whatever its label (what redaction hides).
    """
    return {lab: _label_spans(gold, pred, lab) for lab in labels}


def percentile(values: Sequence[float] | np.ndarray, q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` (NaN when empty)."""
    arr = np.asarray(values, dtype=np.float64)
    return float(np.percentile(arr, q)) if arr.size else float("nan")


__all__ = [
    "RATES",
    "auc",
    "best_f1_threshold",
    "binary",
    "classification",
    "confusion",
    "from_counts",
    "percentile",
    "spans",
]
