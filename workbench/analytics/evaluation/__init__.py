"""Guardrail evaluation: a policy or single checks on labelled data, with confidence.

::

    from workbench.analytics.evaluation import evaluate, compare
    res = evaluate("policies/default.yaml", ["prompt_injection_test", "xstest_safe"], limit=100)
    res.metrics            # polars: per dataset x check, P/R/F1/FPR/accuracy + 95% CIs
    res.by_subgroup        # the same per subgroup (language, attack family, ...)
    res.latency            # per check p50/p95 ms per item (engine verdict latencies)
    res.to_html("eval.html"); res.to_json("eval.json")
    cmp = compare("policies/default.yaml", "policies/strict-pii.yaml", "bipia_email")
    cmp.deltas; cmp.disagreements

Items run through the real :class:`~workbench.guardrails.engine.GuardrailEngine` (input
stage; output stage for output sets) with ML checks batched on the in-process scorer.
Built-in sets (:func:`available`) come from ``datasets/`` manifests and
``../shared/datasets`` with their role (train / eval) reported; any frame with ``text``
and ``label`` works too. Metrics (:mod:`._metrics`) and bootstrap intervals
(:mod:`._bootstrap`) are the project's one implementation: the ML heads' training and
``workbench guardrails eval`` use them as well. Blocking calls work inside a running
event loop; ``evaluate_async`` / ``compare_async`` are the async twins.
"""

from workbench.analytics.evaluation._api import evaluate, evaluate_async
from workbench.analytics.evaluation._bootstrap import bootstrap_ci, paired_bootstrap
from workbench.analytics.evaluation._builtin import DEFAULT_SETS, available, load_set
from workbench.analytics.evaluation._compare import Comparison, compare, compare_async
from workbench.analytics.evaluation._metrics import (
    auc,
    best_f1_threshold,
    binary,
    classification,
    confusion,
    from_counts,
    percentile,
    spans,
)
from workbench.analytics.evaluation._result import EvalResult
from workbench.analytics.evaluation._run import POSITIVE
from workbench.analytics.evaluation._sets import LabelledSet, from_frame
from workbench.analytics.evaluation._tables import ALL, POLICY

__all__ = [
    "ALL",
    "DEFAULT_SETS",
    "POLICY",
    "POSITIVE",
    "Comparison",
    "EvalResult",
    "LabelledSet",
    "auc",
    "available",
    "best_f1_threshold",
    "binary",
    "bootstrap_ci",
    "classification",
    "compare",
    "compare_async",
    "confusion",
    "evaluate",
    "evaluate_async",
    "from_counts",
    "from_frame",
    "load_set",
    "paired_bootstrap",
    "percentile",
    "spans",
]
