"""Merging cost-rollup rows of several files into one set (a day file, or a window).

The merge is exact for every measure (:mod:`._rollup_cost_compute` describes the rows):

- ``key`` rows: per key, ``n`` and ``cost`` add up; the first request is the row with the
  smallest ``(first_at, first_cost)``; the per-request lists keep the first ``keep``
  requests in the order ``(at, cost, id)`` (a day file keeps 2: the examples);
- ``tokens`` rows: counts and sums add up, the histograms are summed value by value,
  the top 3 gaps are the top 3 of the parts' tops;
- ``short`` rows: sums add up, the top 5 costs are the top 5 of the parts' tops (a
  null cost last, ties by request id);
- ``rows``: ``n`` adds up, ``first_at`` is the earliest.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from ._rollup_cost_compute import cost_schema

if TYPE_CHECKING:
    import polars as pl

TOKEN_DIMS = ["key_id", "model", "provider"]
SHORT_DIMS = ["model", "provider"]


def first_cost() -> pl.Expr:
    """The ``first_cost`` of a group of key rows: the cheapest at the earliest time."""
    import polars as pl

    return pl.col("first_cost").sort_by("first_at", "first_cost").first()


def merge_keys(keys: pl.DataFrame, keep: int = 2) -> pl.DataFrame:
    """Key rows merged per key (lists cut to the first ``keep`` requests)."""
    import polars as pl

    flat = (
        keys.select("key_hi", "key_lo", "at", "costs", "ids")
        .explode("at", "costs", "ids")
        .sort("key_hi", "key_lo", "at", "costs", "ids")
        .group_by("key_hi", "key_lo", maintain_order=True)
        .agg(pl.col("at").head(keep), pl.col("costs").head(keep), pl.col("ids").head(keep))
    )
    sums = keys.group_by("key_hi", "key_lo").agg(
        pl.col("n").sum(), pl.col("cost").sum(), pl.col("first_at").min(), first_cost()
    )
    return sums.join(flat, on=["key_hi", "key_lo"]).sort("key_hi", "key_lo")


def _hist(parts: pl.DataFrame, prefix: str, dims: list[str]) -> pl.DataFrame:
    import polars as pl

    values, counts = f"{prefix}_values", f"{prefix}_counts"
    return (
        parts.select(*dims, values, counts)
        .explode(values, counts)
        .group_by(*dims, values)
        .agg(pl.col(counts).sum())
        .sort(values)
        .group_by(dims, maintain_order=True)
        .agg(values, counts)
    )


def top(parts: pl.DataFrame, dims: list[str], k: int) -> pl.DataFrame:
    """The top ``k`` of the parts' ``ex_ids``/``ex_values`` per group (largest value
    first, null last, ties by id)."""
    import polars as pl

    flat = parts.select(*dims, "ex_ids", "ex_values").explode("ex_ids", "ex_values")
    ordered = flat.sort(
        pl.col("ex_values"), pl.col("ex_ids"), descending=[True, False], nulls_last=True
    )
    return ordered.group_by(dims, maintain_order=True).agg(
        pl.col("ex_ids").head(k), pl.col("ex_values").head(k)
    )


def merge_tokens(parts: pl.DataFrame) -> pl.DataFrame:
    """``tokens`` rows merged per (key_id, model, provider)."""
    import polars as pl

    dims = TOKEN_DIMS
    sums = parts.group_by(dims).agg(pl.col("n", "unused", "cut").sum())
    for prefix in ("ct", "mt"):
        sums = sums.join(_hist(parts, prefix, dims), on=dims, nulls_equal=True, how="left")
    return sums.join(top(parts, dims, 3), on=dims, nulls_equal=True, how="left")


def merge_short(parts: pl.DataFrame) -> pl.DataFrame:
    """``short`` rows merged per (model, provider)."""
    import polars as pl

    dims = SHORT_DIMS
    sums = parts.group_by(dims).agg(pl.col("n", "prompt_tokens", "completion_tokens", "cost").sum())
    return sums.join(top(parts, dims, 5), on=dims, nulls_equal=True, how="left")


def merge_cost(table: pa.Table) -> pa.Table:
    """One cost-rollup table from the rows of several (a day file)."""
    import polars as pl

    target = cost_schema()
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    parts = [
        merge_keys(df.filter(pl.col("kind") == "key")).with_columns(pl.lit("key").alias("kind")),
        merge_tokens(df.filter(pl.col("kind") == "tokens")).with_columns(
            pl.lit("tokens").alias("kind")
        ),
        merge_short(df.filter(pl.col("kind") == "short")).with_columns(
            pl.lit("short").alias("kind")
        ),
        df.filter(pl.col("kind") == "rows")
        .select(pl.col("n").sum(), pl.col("first_at").min())
        .with_columns(pl.lit("rows").alias("kind")),
    ]
    out = pl.concat([p for p in parts if p.height], how="diagonal_relaxed")
    if out.is_empty():
        return target.empty_table()
    arrow = out.to_arrow()
    for name in target.names:
        if name not in arrow.column_names:
            arrow = arrow.append_column(name, pa.nulls(arrow.num_rows, target.field(name).type))
    return arrow.select(target.names).cast(target)
