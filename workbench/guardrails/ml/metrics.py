"""Metrics shared by training (cross-validation) and the evaluation.

Binary: precision, recall, F1, false-positive rate at a threshold (``score >= t`` flags),
the F1-maximising threshold, ROC AUC. Spans: overlap matching per label (a predicted span
is correct when it overlaps a gold span of its label; a gold span is found when a
predicted span of its label overlaps it), exact-match recall, and the share of gold
entity characters covered by any predicted span (what redaction hides).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def binary(y: Sequence[int], scores: Sequence[float], threshold: float) -> dict[str, float]:
    """``{n, positives, tp, fp, fn, tn, precision, recall, f1, fpr, accuracy}``."""
    yt = np.asarray(y, dtype=bool)
    yp = np.asarray(scores, dtype=np.float64) >= threshold
    tp = int((yt & yp).sum())
    fp = int((~yt & yp).sum())
    fn = int((yt & ~yp).sum())
    tn = int((~yt & ~yp).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "n": len(yt),
        "positives": int(yt.sum()),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "fpr": fp / (fp + tn) if fp + tn else 0.0,
        "accuracy": (tp + tn) / len(yt) if len(yt) else 0.0,
    }


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


def spans(
    gold: Sequence[Sequence[dict[str, Any]]],
    pred: Sequence[Sequence[dict[str, Any]]],
    labels: Sequence[str],
) -> dict[str, dict[str, float]]:
    """Per label: overlap precision/recall/F1, exact recall, gold-character coverage.

    ``gold`` and ``pred`` hold, per text, dicts with ``start``, ``end``, ``label``.
    Coverage counts gold characters inside any predicted span, whatever its label.
    """
    out: dict[str, dict[str, float]] = {}
    for lab in labels:
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
        out[lab] = {
            "gold": tp_g + fn,
            "predicted": tp_p + fp,
            "precision": precision,
            "recall": recall,
            "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
            "exact_recall": exact / (tp_g + fn) if tp_g + fn else 0.0,
            "char_coverage": covered / chars if chars else 0.0,
        }
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0-100) of ``values`` (NaN when empty)."""
    return float(np.percentile(np.asarray(values, dtype=np.float64), q)) if values else float("nan")


__all__ = ["auc", "best_f1_threshold", "binary", "percentile", "spans"]
