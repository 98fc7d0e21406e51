"""Metric tables from per-item predictions: per check and for the policy, per dataset and
subgroup, with bootstrap intervals; latency per check from the engine's verdicts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from workbench.analytics.evaluation._bootstrap import CI_METRICS, bootstrap_ci
from workbench.analytics.evaluation._metrics import classification, percentile

if TYPE_CHECKING:
    import polars as pl

#: The ``check`` value of the rows about the policy as a whole.
POLICY = "(policy)"
ALL = "(all)"


def check_column(check: str) -> str:
    """The items-frame column holding whether ``check`` fired on each item."""
    return f"fired:{check}"


def with_check_columns(
    items: pl.DataFrame, verdicts: pl.DataFrame, checks: Sequence[str]
) -> pl.DataFrame:
    """``items`` plus one boolean column per check: did it fail on the item (a check that
    did not run on an item, e.g. not reading its role, did not fire)."""
    import polars as pl

    out = items
    fired = verdicts.filter(pl.col("fired")).select("dataset", "id", "check").unique()
    for c in checks:
        hit = (
            fired.filter(pl.col("check") == c)
            .select("dataset", "id")
            .with_columns(pl.lit(True).alias(check_column(c)))
        )
        out = out.join(hit, on=["dataset", "id"], how="left").with_columns(
            pl.col(check_column(c)).fill_null(False)
        )
    return out


def metric_row(y: np.ndarray, pred: np.ndarray, *, resamples: int, seed: int) -> dict[str, Any]:
    """Counts, rates and ``<metric>_low/_high`` bootstrap bounds for one prediction."""
    row = classification(y, pred)
    ci = bootstrap_ci(y, pred, resamples=resamples, seed=seed)
    for m in CI_METRICS:
        row[f"{m}_low"], row[f"{m}_high"] = ci[m]
    return row


def _rows_for(
    df: pl.DataFrame, checks: Sequence[str], keys: dict[str, Any], resamples: int, seed: int
) -> list[dict[str, Any]]:
    y = df["label"].to_numpy().astype(bool)
    out = []
    for c in [POLICY, *checks]:
        col = "predicted" if c == POLICY else check_column(c)
        pred = df[col].to_numpy().astype(bool)
        out.append({**keys, "check": c, **metric_row(y, pred, resamples=resamples, seed=seed)})
    return out


def metrics_table(
    items: pl.DataFrame, checks: Sequence[str], roles: dict[str, str], *, resamples: int, seed: int
) -> pl.DataFrame:
    """One row per (dataset, check), the policy first; ``(all)`` pools the datasets."""
    import polars as pl

    rows: list[dict[str, Any]] = []
    names = items["dataset"].unique(maintain_order=True).to_list()
    for name in names:
        part = items.filter(pl.col("dataset") == name)
        rows += _rows_for(
            part, checks, {"dataset": name, "role": roles.get(name, "?")}, resamples, seed
        )
    if len(names) > 1:
        mixed = ",".join(sorted({roles.get(n, "?") for n in names}))
        rows += _rows_for(items, checks, {"dataset": ALL, "role": mixed}, resamples, seed)
    return pl.DataFrame(rows, infer_schema_length=None)


def subgroup_table(
    items: pl.DataFrame,
    checks: Sequence[str],
    subgroups: dict[str, Sequence[str]],
    *,
    resamples: int,
    seed: int,
) -> pl.DataFrame:
    """One row per (dataset, subgroup column, value, check)."""
    import polars as pl

    rows: list[dict[str, Any]] = []
    for name, cols in subgroups.items():
        part = items.filter(pl.col("dataset") == name)
        for col in cols:
            if col not in part.columns:
                continue
            for value in sorted({str(v) for v in part[col].to_list()}):
                grp = part.filter(pl.col(col).cast(pl.String) == value)
                keys = {"dataset": name, "subgroup": col, "value": value}
                rows += _rows_for(grp, checks, keys, resamples, seed)
    if not rows:
        return pl.DataFrame(
            schema={
                "dataset": pl.String,
                "subgroup": pl.String,
                "value": pl.String,
                "check": pl.String,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def latency_table(verdicts: pl.DataFrame, items: pl.DataFrame) -> pl.DataFrame:
    """Per check: items it ran on, p50/p95/mean ms per item (the engine's verdict
    latencies); then the policy's checks per item and the ML scoring share per item."""
    import polars as pl

    rows = []
    for (check, stage), grp in verdicts.group_by(["check", "stage"], maintain_order=True):
        ms = grp["latency_ms"].to_numpy()
        rows.append(_lat_row(str(check), str(stage), ms))
    rows.append(_lat_row(f"{POLICY} checks", "", items["checks_ms"].to_numpy()))
    scoring = items["scoring_ms"].to_numpy()
    if scoring.size and scoring.max() > 0:
        rows.append(_lat_row(f"{POLICY} ML scoring (batched)", "", scoring))
    return pl.DataFrame(rows)


def _lat_row(check: str, stage: str, ms: np.ndarray) -> dict[str, Any]:
    return {
        "check": check,
        "stage": stage,
        "n": int(ms.size),
        "p50_ms": percentile(ms, 50),
        "p95_ms": percentile(ms, 95),
        "mean_ms": float(ms.mean()) if ms.size else float("nan"),
    }


__all__ = [
    "ALL",
    "POLICY",
    "check_column",
    "latency_table",
    "metric_row",
    "metrics_table",
    "subgroup_table",
    "with_check_columns",
]
