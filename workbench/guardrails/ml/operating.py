"""The operating point of a text head: its threshold, chosen on out-of-fold scores.

Max cross-validated F1 subject to an FPR limit on every negative train row and, where
the recipe names hard-negative sources (benign look-alikes: trigger words, documents),
a second FPR limit on those rows alone, so that thousands of easy negatives (comments,
PII sentences) cannot hide over-blocking of the hard ones (issue 11).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.guardrails.ml.recipes import TextRecipe
from workbench.guardrails.ml.train_data import TextData


def operating_threshold(
    y: np.ndarray,
    scores: np.ndarray,
    max_fpr: float | None,
    hard: np.ndarray | None = None,
    hard_max_fpr: float | None = None,
) -> tuple[float, float]:
    """``(threshold, f1)``: max F1 over the distinct scores, among thresholds whose FPR
    (share of negatives at or above) is at most ``max_fpr`` (any without a limit) and,
    with ``hard`` (a row mask) and ``hard_max_fpr``, whose FPR on the negatives among the
    ``hard`` rows is at most ``hard_max_fpr``; the highest threshold wins ties. The
    threshold sits halfway below the cut score."""
    order = np.argsort(-scores, kind="stable")
    s, yy = scores[order], y[order].astype(bool)
    tp, fp = np.cumsum(yy), np.cumsum(~yy)
    last = np.r_[s[1:] != s[:-1], True]  # the last row of each run of equal scores
    pos, neg = max(int(yy.sum()), 1), max(int((~yy).sum()), 1)
    f1 = 2 * tp / (tp + fp + pos)
    ok = last & ((fp / neg <= max_fpr) if max_fpr is not None else True)
    if hard is not None and hard_max_fpr is not None:
        hn = hard[order].astype(bool) & ~yy
        ok = ok & (np.cumsum(hn) / max(int(hn.sum()), 1) <= hard_max_fpr)
    if not ok.any():
        return float(s[0]) + 1e-9, 0.0
    cand = np.flatnonzero(ok)
    i = int(cand[np.argmax(f1[cand] - 1e-12 * np.arange(len(cand)))])
    lower = float(s[i + 1]) if i + 1 < len(s) else 0.0
    return (float(s[i]) + lower) / 2.0, float(f1[i])


def hard_json(recipe: TextRecipe, d: TextData, oof: np.ndarray, threshold: float) -> dict[str, Any]:
    """The hard-negative limit and its out-of-fold FPR (empty without one)."""
    hard = hard_mask(recipe, d)
    if hard is None:
        return {}
    neg = hard & (d.y == 0)
    return {
        "hard_max_fpr": recipe.hard_max_fpr,
        "hard_sources": list(recipe.hard_sources),
        "hard_cv_fpr": float((oof[neg] >= threshold).mean()) if neg.any() else None,
    }


def hard_mask(recipe: TextRecipe, d: TextData) -> np.ndarray | None:
    """Rows of the recipe's hard-negative sources (None without a hard limit)."""
    if recipe.hard_max_fpr is None or d.source is None:
        return None
    return np.isin(np.asarray(d.source), list(recipe.hard_sources))


def threshold_for(recipe: TextRecipe, d: TextData, scores: np.ndarray) -> tuple[float, float]:
    """The recipe's operating point on out-of-fold ``scores``."""
    hard = hard_mask(recipe, d)
    return operating_threshold(d.y, scores, recipe.max_fpr, hard, recipe.hard_max_fpr)


def op_name(recipe: TextRecipe) -> str:
    if recipe.max_fpr is None:
        return "max_cv_f1"
    name = f"max_cv_f1_at_fpr<={recipe.max_fpr:g}"
    if recipe.hard_max_fpr is not None:
        name += f"_hard_fpr<={recipe.hard_max_fpr:g}"
    return name


def threshold_rule(recipe: TextRecipe) -> str:
    limit = (
        f" subject to an out-of-fold FPR <= {recipe.max_fpr:g} on the negative train rows"
        if recipe.max_fpr is not None
        else ""
    )
    if recipe.hard_max_fpr is not None:
        limit += (
            f" and <= {recipe.hard_max_fpr:g} on the negative rows of "
            f"{', '.join(recipe.hard_sources)}"
        )
    return (
        f"max cross-validated F1 over all rows{limit} (midpoint below the cut score); "
        "score >= threshold flags; a text's score is the max over its rows"
    )


__all__ = [
    "hard_json",
    "hard_mask",
    "op_name",
    "operating_threshold",
    "threshold_for",
    "threshold_rule",
]
