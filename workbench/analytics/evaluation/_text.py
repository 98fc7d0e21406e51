"""Plain-text tables of results and comparisons (for the CLI and logs)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench.analytics.evaluation._result import records
from workbench.analytics.evaluation._tables import POLICY

if TYPE_CHECKING:
    from workbench.analytics.evaluation._compare import Comparison
    from workbench.analytics.evaluation._result import EvalResult


def _num(v: Any, signed: bool = False) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:+.3f}" if signed else f"{v:.3f}"
    return str(v)


def _ci(lo: Any, hi: Any, signed: bool = False) -> str:
    if _num(lo) == "-" or _num(hi) == "-":
        return ""
    return f"[{_num(lo, signed)},{_num(hi, signed)}]"


def _load(avg: Any) -> str:
    return "/".join(f"{x:.1f}" for x in avg) if avg else "-"


def grid(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces."""
    lines = [list(header), *[list(r) for r in rows]]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip() for line in lines
    )


def result_text(r: EvalResult, checks: bool = True) -> str:
    """Per dataset and check: n, support, TP/FP/FN/TN, P/R/F1/FPR with 95% CIs; latency."""
    rows = []
    for x in records(r.metrics):
        if not checks and x["check"] != POLICY:
            continue
        cells = [x["dataset"], x["role"], x["check"], str(x["n"]), str(x["support"])]
        cells.append(f"{x['tp']}/{x['fp']}/{x['fn']}/{x['tn']}")
        for m in ("precision", "recall", "f1", "fpr"):
            cells.append(f"{_num(x[m])} {_ci(x[m + '_low'], x[m + '_high'])}".strip())
        rows.append(cells)
    head = [
        "DATASET",
        "ROLE",
        "CHECK",
        "N",
        "POS",
        "TP/FP/FN/TN",
        "PRECISION",
        "RECALL",
        "F1",
        "FPR",
    ]
    lat = [
        [x["check"], x["stage"], str(x["n"]), _num(x["p50_ms"]), _num(x["p95_ms"])]
        for x in records(r.latency)
    ]
    t = r.timing
    return "\n".join(
        [
            f"policy {r.policy_id} ({(r.policy_hash or '')[:12]}); "
            f"caught = {', '.join(r.positive)}; "
            f"95% bootstrap CIs ({r.resamples} resamples, seed {r.seed})",
            grid(head, rows),
            "",
            grid(["CHECK", "STAGE", "ITEMS", "P50_MS", "P95_MS"], lat),
            "",
            f"{t['items']} items in {t['wall_s']:.1f} s: {t['s_per_item']:.4f} s/item "
            f"({t['items_per_s']:.1f} items/s; ML scoring {t['ml_scoring_s']:.1f} s; "
            f"{t['cpus']} CPUs, load average {_load(t.get('load_avg'))})",
        ]
    )


def comparison_text(c: Comparison) -> str:
    """The policy's deltas (B - A) per dataset with paired CIs, and the disagreement count."""
    rows = [
        [
            x["dataset"],
            x["metric"],
            _num(x["a"]),
            _num(x["b"]),
            _num(x["delta"], True),
            _ci(x["low"], x["high"], True),
        ]
        for x in records(c.summary())
    ]
    return "\n".join(
        [
            f"A = {c.a.policy_id}, B = {c.b.policy_id}: B - A, paired 95% bootstrap CI",
            grid(["DATASET", "METRIC", "A", "B", "B-A", "95% CI"], rows),
            "",
            f"{c.disagreements.height} of {c.a.items.height} items decided differently "
            f"(B right on {int((c.disagreements['right'] == 'B').sum())})",
        ]
    )


__all__ = ["comparison_text", "grid", "result_text"]
