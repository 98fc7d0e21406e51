"""Metrics for the ML heads' training and evaluation.

The implementation lives in :mod:`workbench.analytics.evaluation._metrics`, the one the
whole project reports with (policy evaluation, replay, the ML eval); this module keeps
the names training code imports.
"""

from __future__ import annotations

from workbench.analytics.evaluation._metrics import (
    auc,
    best_f1_threshold,
    binary,
    percentile,
    spans,
)

__all__ = ["auc", "best_f1_threshold", "binary", "percentile", "spans"]
