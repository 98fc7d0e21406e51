"""Formatting and writing of the ``workbench guardrails eval`` report (ML heads).

:func:`table` renders the rows (with 95% bootstrap intervals of F1 and FPR where the
row has them) and the latency summary as plain text; :func:`write` stores the report as
strict JSON (NaN/inf as null) with its rows as Parquet beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from workbench.analytics.evaluation._result import finite
from workbench.guardrails.ml.eval_sets import BATCH

COLUMNS = (
    "check",
    "dataset",
    "n",
    "precision",
    "recall",
    "f1",
    "fpr",
    "flagged_share",
    "latency_p50_ms",
    "latency_p99_ms",
)


def table(report: dict[str, Any]) -> str:
    """The rows as a plain text table, then the latency summary."""

    def cell(v: Any) -> str:
        if v is None or (isinstance(v, float) and not np.isfinite(v)):
            return "-"
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    def ci(r: dict[str, Any], m: str) -> str:
        lo, hi = r.get(f"{m}_low"), r.get(f"{m}_high")
        if (
            not isinstance(lo, float)
            or not isinstance(hi, float)
            or not np.isfinite([lo, hi]).all()
        ):
            return "-"
        return f"[{lo:.2f},{hi:.2f}]"

    lines = [[c.upper() for c in COLUMNS] + ["F1 95% CI", "FPR 95% CI"]]
    lines += [
        [cell(r.get(c)) for c in COLUMNS] + [ci(r, "f1"), ci(r, "fpr")] for r in report["rows"]
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    out = [
        "  ".join(x.ljust(w) for x, w in zip(line, widths, strict=True)).rstrip() for line in lines
    ]
    lat = report["latency"]
    out.append(
        f"\nall ML checks, one encoder pass ({lat['texts']} texts, median "
        f"{lat['median_tokens']} tokens): alone p50 {lat['alone_p50_ms']:.1f} ms, "
        f"p99 {lat['alone_p99_ms']:.1f} ms; batch of {BATCH}: "
        f"{lat['batch32_per_text_p50_ms']:.2f} ms/text p50 "
        f"({lat['batches']} batches); cached {lat['cached_per_text_ms']:.3f} ms/text"
    )
    return "\n".join(out)


def write(report: dict[str, Any], out: Path) -> list[Path]:
    """Write the report as JSON at ``out`` and its rows as Parquet beside it."""
    import polars as pl

    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(finite(report), indent=2, allow_nan=False) + "\n")
    pq = out.with_suffix(".parquet")
    pl.DataFrame(report["rows"], infer_schema_length=None).write_parquet(pq)
    return [out, pq]


__all__ = ["COLUMNS", "table", "write"]
