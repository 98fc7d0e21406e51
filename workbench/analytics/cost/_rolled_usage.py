"""``max_tokens`` statistics and short-traffic totals from the cost rollup plus raw edges.

Whole hours (and days) come from the rollup's ``tokens`` and ``short`` rows, every other
hour of the window from its raw rows (computed with the same code the rollup is written
with); both are merged exactly (:mod:`workbench.logstore._rollup_cost_merge`). The
percentiles come from the summed exact histograms and are computed the way DuckDB's
``quantile_cont`` does (linear interpolation between the order statistics at
``(n - 1) q``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from ._rolled import Plan, source

if TYPE_CHECKING:
    import duckdb
    import numpy as np
    import polars as pl

_TOKENS = (
    "key_id, model, provider, n, unused, cut, ct_values, ct_counts, mt_values, mt_counts, "
    "ex_ids, ex_values"
)
_SHORT = "model, provider, n, prompt_tokens, completion_tokens, cost, ex_ids, ex_values"


def quantile_cont(values: np.ndarray, counts: np.ndarray, q: float) -> float:
    """The continuous quantile of the multiset ``{value: count}`` (values in any order,
    repeats allowed)."""
    import numpy as np

    order = np.argsort(values, kind="stable")
    v, cum = values[order], np.cumsum(counts[order])
    pos = (int(cum[-1]) - 1) * q
    lo, hi = math.floor(pos), math.ceil(pos)
    v_lo = float(v[np.searchsorted(cum, lo, side="right")])
    if lo == hi:
        return v_lo
    v_hi = float(v[np.searchsorted(cum, hi, side="right")])
    return v_lo + (pos - lo) * (v_hi - v_lo)


def _parts(
    cur: duckdb.DuckDBPyConnection, p: Plan, kind: str, cols: str, raw: pl.DataFrame
) -> pl.DataFrame:
    import polars as pl

    names = [c.strip() for c in cols.split(",")]
    parts = [raw.select(names)]
    if p.whole:
        sql = f"SELECT {cols} FROM {source(p.whole)} WHERE kind = ?"
        parts.append(cur.sql(sql, params=[kind]).pl().select(names))
    return pl.concat(parts, how="vertical_relaxed")


def token_stats(
    cur: duckdb.DuckDBPyConnection, p: Plan, raw: pl.DataFrame, min_requests: int
) -> pl.DataFrame:
    """What :func:`~.sizing._stats` returns, from the rollup and the raw edge rows."""
    import numpy as np
    import polars as pl

    from workbench.logstore._rollup_cost_compute import token_rows
    from workbench.logstore._rollup_cost_merge import TOKEN_DIMS, top

    parts = _parts(cur, p, "tokens", _TOKENS, token_rows(raw))
    dims = list(TOKEN_DIMS)
    sums = parts.group_by(dims).agg(pl.col("n", "unused", "cut").sum())
    sums = sums.filter(pl.col("n") >= min_requests)
    keep = parts.join(sums.select(dims), on=dims, how="semi", nulls_equal=True)
    lists = keep.group_by(dims).agg(
        pl.col("ct_values", "ct_counts", "mt_values", "mt_counts").list.explode(
            keep_nulls=False, empty_as_null=False
        )
    )
    merged = sums.join(lists, on=dims, nulls_equal=True).join(
        top(keep, dims, 3), on=dims, nulls_equal=True
    )
    stats = []
    for cv, cc, mv, mc in merged.select(
        "ct_values", "ct_counts", "mt_values", "mt_counts"
    ).iter_rows():
        ct, mt = (np.asarray(cv), np.asarray(cc)), (np.asarray(mv), np.asarray(mc))
        stats.append((quantile_cont(*ct, 0.95), quantile_cont(*ct, 0.99), quantile_cont(*mt, 0.5)))
    return merged.with_columns(
        pl.Series("p95", [s[0] for s in stats], pl.Float64),
        pl.Series("p99", [s[1] for s in stats], pl.Float64),
        pl.Series("median_max", [s[2] for s in stats], pl.Float64),
        pl.col("ex_ids").alias("examples"),
    )


def short_totals(cur: duckdb.DuckDBPyConnection, p: Plan, raw: pl.DataFrame) -> pl.DataFrame:
    """What :func:`~.routing.short_traffic` returns, from the rollup and the raw edges."""
    import polars as pl

    from workbench.logstore._rollup_cost_compute import short_rows
    from workbench.logstore._rollup_cost_merge import merge_short

    merged = merge_short(_parts(cur, p, "short", _SHORT, short_rows(raw)))
    return merged.with_columns(pl.col("ex_ids").alias("examples"))
