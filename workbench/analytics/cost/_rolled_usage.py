"""``max_tokens`` statistics and short-traffic totals from the cost rollup plus raw edges.

Whole hours come from the rollup's ``tokens`` and ``short`` rows, every other hour of
the window from its raw rows (computed with the same code the rollup is written with).
Counts, token sums and costs add up; the percentiles come from the summed exact
histograms and are computed the way DuckDB's ``quantile_cont`` does (linear
interpolation between the order statistics at ``(n - 1) q``); examples are the top rows
of the merged per-hour top lists (each hour keeps its own top, so the merged top is
exact).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ._rolled import Plan, source

if TYPE_CHECKING:
    import duckdb
    import polars as pl

_DIMS = ["key_id", "model", "provider"]


def quantile_cont(values: list[int], counts: list[int], q: float) -> float:
    """The continuous quantile of the multiset ``{value: count}`` (``values`` sorted)."""
    total = sum(counts)
    pos = (total - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo = v_hi = None
    seen = 0
    for v, c in zip(values, counts, strict=True):
        seen += c
        if v_lo is None and seen > lo:
            v_lo = v
        if seen > hi:
            v_hi = v
            break
    assert v_lo is not None and v_hi is not None
    if lo == hi:
        return float(v_lo)
    return float(v_lo) + (pos - lo) * float(v_hi - v_lo)


def _rolled(cur: duckdb.DuckDBPyConnection, p: Plan, kind: str, cols: str) -> pl.DataFrame | None:
    if not p.whole:
        return None
    return cur.sql(f"SELECT {cols} FROM {source(p.whole)} WHERE kind = ?", params=[kind]).pl()


def _hist(parts: pl.DataFrame, prefix: str, dims: list[str]) -> dict[tuple, tuple[list, list]]:
    import polars as pl

    flat = (
        parts.select(*dims, f"{prefix}_values", f"{prefix}_counts")
        .explode(f"{prefix}_values", f"{prefix}_counts")
        .group_by(*dims, f"{prefix}_values")
        .agg(pl.col(f"{prefix}_counts").sum())
        .sort(f"{prefix}_values")
        .group_by(dims, maintain_order=True)
        .agg(f"{prefix}_values", f"{prefix}_counts")
    )
    return {tuple(r[:3]): (r[3], r[4]) for r in flat.iter_rows()}


def _top(parts: pl.DataFrame, dims: list[str], k: int) -> pl.DataFrame:
    import polars as pl

    flat = parts.select(*dims, "ex_ids", "ex_values").explode("ex_ids", "ex_values")
    return (
        flat.sort(pl.col("ex_values"), pl.col("ex_ids"), descending=[True, False], nulls_last=True)
        .group_by(dims, maintain_order=True)
        .agg(pl.col("ex_ids").head(k).alias("examples"))
    )


def token_stats(
    cur: duckdb.DuckDBPyConnection, p: Plan, raw: pl.DataFrame, min_requests: int
) -> pl.DataFrame:
    """What :func:`~.sizing._stats` returns, from the rollup and the raw edge rows."""
    import polars as pl

    from workbench.logstore._rollup_cost_compute import token_rows

    cols = "key_id, model, provider, n, unused, cut, ct_values, ct_counts, mt_values, "
    cols += "mt_counts, ex_ids, ex_values"
    parts = [token_rows(raw)]
    got = _rolled(cur, p, "tokens", cols)
    if got is not None:
        parts.append(got)
    allp = pl.concat([x.select(cols.replace(" ", "").split(",")) for x in parts],
                     how="vertical_relaxed")  # fmt: skip
    sums = allp.group_by(_DIMS).agg(pl.col("n", "unused", "cut").sum())
    sums = sums.filter(pl.col("n") >= min_requests)
    if sums.is_empty():
        return sums.with_columns(
            pl.lit(None, pl.Float64).alias(c) for c in ("p95", "p99", "median_max")
        ).with_columns(pl.lit(None, pl.List(pl.String)).alias("examples"))
    keep = allp.join(sums.select(_DIMS), on=_DIMS, nulls_equal=True, how="semi")
    ct, mt = _hist(keep, "ct", _DIMS), _hist(keep, "mt", _DIMS)
    p95, p99, med = [], [], []
    for key in sums.select(_DIMS).iter_rows():
        p95.append(quantile_cont(*ct[key], 0.95))
        p99.append(quantile_cont(*ct[key], 0.99))
        med.append(quantile_cont(*mt[key], 0.5))
    out = sums.with_columns(
        pl.Series("p95", p95, pl.Float64), pl.Series("p99", p99, pl.Float64),
        pl.Series("median_max", med, pl.Float64),
    )  # fmt: skip
    return out.join(_top(keep, _DIMS, 3), on=_DIMS, nulls_equal=True, how="left")


def short_totals(cur: duckdb.DuckDBPyConnection, p: Plan, raw: pl.DataFrame) -> pl.DataFrame:
    """What :func:`~.routing.short_traffic` returns, from the rollup and the raw edges."""
    import polars as pl

    from workbench.logstore._rollup_cost_compute import short_rows

    cols = "model, provider, n, prompt_tokens, completion_tokens, cost, ex_ids, ex_values"
    names = cols.replace(" ", "").split(",")
    parts = [short_rows(raw).select(names)]
    got = _rolled(cur, p, "short", cols)
    if got is not None:
        parts.append(got.select(names))
    allp = pl.concat(parts, how="vertical_relaxed")
    dims = ["model", "provider"]
    sums = allp.group_by(dims).agg(pl.col("n", "prompt_tokens", "completion_tokens", "cost").sum())
    return sums.join(_top(allp, dims, 5), on=dims, nulls_equal=True, how="left")
