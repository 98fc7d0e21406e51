"""The metric and bootstrap implementation on hand-made predictions with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workbench.analytics.evaluation import (
    binary,
    bootstrap_ci,
    classification,
    confusion,
    from_counts,
    paired_bootstrap,
)
from workbench.analytics.evaluation._metrics import best_f1_threshold, percentile

# 10 items: 4 positives; predictions give tp=3, fn=1, fp=2, tn=4
Y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
P = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0]


def test_confusion_and_rates_exact() -> None:
    assert confusion(Y, P) == {"tp": 3, "fp": 2, "fn": 1, "tn": 4}
    m = classification(Y, P)
    assert m["n"] == 10 and m["support"] == 4
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)
    assert m["f1"] == pytest.approx(2 * 0.6 * 0.75 / (0.6 + 0.75))
    assert m["fpr"] == pytest.approx(2 / 6)
    assert m["accuracy"] == pytest.approx(7 / 10)


def test_undefined_ratios_are_nan_in_reports_and_zero_for_training() -> None:
    m = classification([0, 0, 0], [0, 0, 0])
    assert math.isnan(m["precision"]) and math.isnan(m["recall"]) and math.isnan(m["f1"])
    assert m["fpr"] == 0.0 and m["accuracy"] == 1.0
    assert math.isnan(classification([1, 1], [1, 0])["fpr"])  # no negatives
    b = binary([0, 0, 0], [0.1, 0.2, 0.3], 0.5)
    assert b["precision"] == 0.0 and b["recall"] == 0.0 and b["f1"] == 0.0
    assert b["positives"] == 0 and b["tn"] == 3


def test_binary_thresholds_scores() -> None:
    b = binary([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], 0.5)
    assert (b["tp"], b["fp"], b["fn"], b["tn"]) == (1, 1, 1, 1)
    assert best_f1_threshold([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1]) == (pytest.approx(0.55), 1.0)


def test_from_counts_is_vectorised() -> None:
    r = from_counts(np.array([3, 0]), np.array([2, 0]), np.array([1, 0]), np.array([4, 5]))
    assert r["precision"][0] == pytest.approx(0.6) and math.isnan(r["precision"][1])
    assert r["fpr"].tolist() == pytest.approx([1 / 3, 0.0])


def test_percentile() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert math.isnan(percentile([], 95))


def _labelled(n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` items (multiple of 10) with the rates of Y/P above."""
    return np.tile(Y, n // 10), np.tile(P, n // 10)


def test_ci_contains_the_point_estimate_and_shrinks_with_n() -> None:
    widths = []
    for n in (40, 400, 4000):
        y, p = _labelled(n)
        point = classification(y, p)
        ci = bootstrap_ci(y, p, seed=1)
        for m in ("precision", "recall", "f1", "fpr"):
            lo, hi = ci[m]
            assert lo <= point[m] <= hi, (n, m, lo, point[m], hi)
        widths.append(ci["f1"][1] - ci["f1"][0])
    assert widths[0] > widths[1] > widths[2]
    assert widths[2] < 0.05


def test_ci_is_seeded() -> None:
    y, p = _labelled(100)
    assert bootstrap_ci(y, p, seed=3) == bootstrap_ci(y, p, seed=3)
    assert bootstrap_ci(y, p, seed=3) != bootstrap_ci(y, p, seed=4)


def test_multinomial_draw_matches_an_item_level_bootstrap() -> None:
    y, p = _labelled(200)
    rng = np.random.default_rng(7)
    idx = rng.integers(0, y.size, size=(4000, y.size))
    yy, pp = y[idx].astype(bool), p[idx].astype(bool)
    f1 = from_counts((yy & pp).sum(1), (~yy & pp).sum(1), (yy & ~pp).sum(1), (~yy & ~pp).sum(1))
    ref = np.percentile(f1["f1"], [2.5, 97.5])
    lo, hi = bootstrap_ci(y, p, resamples=4000, seed=7)["f1"]
    assert abs(lo - ref[0]) < 0.02 and abs(hi - ref[1]) < 0.02


def test_paired_bootstrap_identical_and_better() -> None:
    y, p = _labelled(100)
    same = paired_bootstrap(y, p, p)
    assert all(d["delta"] == 0 and d["low"] == 0 and d["high"] == 0 for d in same.values())
    better = paired_bootstrap(y, p, y)  # B is perfect
    assert better["recall"]["a"] == pytest.approx(0.75) and better["recall"]["b"] == 1.0
    assert better["recall"]["delta"] == pytest.approx(0.25)
    assert better["recall"]["low"] > 0 and better["fpr"]["high"] < 0
    assert better["f1"]["low"] <= better["f1"]["delta"] <= better["f1"]["high"]
