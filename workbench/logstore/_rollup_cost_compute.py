"""What the cost rollup holds for a set of raw request rows (no I/O; see :mod:`._rollup_cost`).

Three kinds of rows, one schema (:func:`cost_schema`, columns of the other kinds null):

``kind = 'key'``: one row per exact-cache key (:func:`workbench.cache.match.exact_key`,
computed here once per distinct body, never at read time) of the *cacheable* rows
(``status = 'ok'``, ``cache_status`` not a cache hit, a JSON-object body: the client's
original where logged, else the stored one). ``key_hi``/``key_lo``: the key's first
128 bits as two signed 64-bit integers; ``n``; ``cost`` (sum of ``coalesce(cost_usd,
0)``); ``first_at``/``first_cost``: the first request in the order ``(received_at, cost,
request_id)``; and, in that order, every request's ``at``, ``costs`` and ``ids`` (read
only for an hour cut by a window's edge, and for the examples).

``kind = 'tokens'``: per ``(key_id, model, provider)`` of the ``status = 'ok'`` rows with
``max_tokens`` and ``completion_tokens``: ``n``, ``unused`` (sum of ``max(max_tokens -
completion_tokens, 0)``), ``cut`` (``finish_reason = 'length'``), exact histograms of
``completion_tokens`` (``ct_values``/``ct_counts``) and ``max_tokens``
(``mt_values``/``mt_counts``), and the 3 largest gaps (``ex_ids``/``ex_values``, ties by
request id).

``kind = 'short'``: per ``(model, provider)`` of the short, simple rows at the default
limits :data:`SHORT_LIMITS` (``status = 'ok'``, a chat/completions endpoint, prompt and
completion within the limits, no ``"tools"``/``"functions"`` in the body): ``n``,
``prompt_tokens``, ``completion_tokens``, ``cost``, and the 5 costliest requests
(``ex_ids``/``ex_values``; null cost last, ties by request id).

``kind = 'rows'``: one row: ``n`` (every row of the file) and ``first_at`` (the earliest
``received_at``): the window's request count and first request without a raw scan.

``model`` is ``coalesce(model_served, model_requested)`` everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pyarrow as pa

from ._parquet import conform

if TYPE_CHECKING:
    import polars as pl

COST_ROLLUP_VERSION = 1
SHORT_LIMITS = (500, 200)
"""The (prompt, completion) token limits of the ``short`` rows (the suggestion default)."""
CHAT_ENDPOINTS = ("/v1/chat/completions", "/v1/completions")
CACHE_HITS = ("hit", "semantic_hit")
"""``cache_status`` values of answers served from a cache (not cacheable traffic)."""

INPUTS: dict[str, pa.DataType] = {
    "request_id": pa.string(),
    "received_at": pa.timestamp("us", tz="UTC"),
    "status": pa.string(),
    "cache_status": pa.string(),
    "workspace": pa.string(),
    "key_id": pa.string(),
    "model_served": pa.string(),
    "model_requested": pa.string(),
    "provider": pa.string(),
    "policy_hash": pa.string(),
    "endpoint": pa.string(),
    "request_original": pa.string(),
    "request_body": pa.string(),
    "prompt_tokens": pa.int32(),
    "completion_tokens": pa.int32(),
    "max_tokens": pa.int32(),
    "finish_reason": pa.string(),
    "cost_usd": pa.float64(),
}


def cost_schema() -> pa.Schema:
    """The Arrow schema of a cost-rollup file (partition columns not included)."""
    ts, i64, f64, s = pa.timestamp("us", tz="UTC"), pa.int64(), pa.float64(), pa.string()
    fields = [
        ("kind", s), ("key_hi", i64), ("key_lo", i64), ("key_id", s), ("model", s),
        ("provider", s), ("n", i64), ("cost", f64), ("first_at", ts), ("first_cost", f64),
        ("at", pa.list_(ts)), ("costs", pa.list_(f64)), ("ids", pa.list_(s)),
        ("unused", i64), ("cut", i64), ("prompt_tokens", i64), ("completion_tokens", i64),
        ("ct_values", pa.list_(i64)), ("ct_counts", pa.list_(i64)),
        ("mt_values", pa.list_(i64)), ("mt_counts", pa.list_(i64)),
        ("ex_ids", pa.list_(s)), ("ex_values", pa.list_(f64)),
    ]  # fmt: skip
    meta = {
        b"workbench.cost_rollup_version": str(COST_ROLLUP_VERSION).encode(),
        b"workbench.cost_rollup_short_limits": orjson.dumps(list(SHORT_LIMITS)),
    }
    return pa.schema([pa.field(n, t) for n, t in fields], metadata=meta)


def _frame(table: pa.Table) -> pl.DataFrame:
    import polars as pl

    df = pl.from_arrow(conform(table, INPUTS))
    assert isinstance(df, pl.DataFrame)
    return df.with_columns(
        pl.coalesce("model_served", "model_requested").alias("model"),
        pl.coalesce("request_original", "request_body").alias("body"),
        pl.col("cost_usd").fill_null(0.0).alias("c"),
    )


def _signed(hex16: str) -> int:
    v = int(hex16, 16)
    return v - (1 << 64) if v >= 1 << 63 else v


def key_parts(row: dict[str, Any]) -> tuple[int, int] | None:
    """``(key_hi, key_lo)`` of a row's body and identity (None: not a JSON object)."""
    from workbench.cache.match import exact_key

    try:
        body = orjson.loads(row["body"])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(body, dict):
        return None
    key = exact_key(
        body, model=row["model"], workspace=row["workspace"],
        policy_hash=row["policy_hash"], endpoint=row["endpoint"],
    )  # fmt: skip
    return _signed(key[:16]), _signed(key[16:32])


def _keys(df: pl.DataFrame) -> pl.DataFrame:
    """The cacheable rows with ``key_hi``/``key_lo`` (each distinct body parsed once)."""
    import polars as pl

    ident = ["body", "model", "workspace", "policy_hash", "endpoint"]
    rows = df.filter(
        (pl.col("status") == "ok").fill_null(False)
        & ~pl.col("cache_status").fill_null("").is_in(CACHE_HITS)
        & pl.col("body").is_not_null()
    )
    distinct = rows.select(ident).unique()
    his, los = [], []
    for row in distinct.iter_rows(named=True):
        got = key_parts(row)
        his.append(got[0] if got else None)
        los.append(got[1] if got else None)
    keyed = distinct.with_columns(
        pl.Series("key_hi", his, dtype=pl.Int64), pl.Series("key_lo", los, dtype=pl.Int64)
    ).filter(pl.col("key_hi").is_not_null())
    return rows.join(keyed, on=ident, how="inner", nulls_equal=True)


def key_rows(df: pl.DataFrame) -> pl.DataFrame:
    """``kind = 'key'`` rows of the frame from :func:`_frame`."""
    import polars as pl

    rows = _keys(df).sort("key_hi", "key_lo", "received_at", "c", "request_id")
    return rows.group_by("key_hi", "key_lo", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("c").sum().alias("cost"),
        pl.col("received_at").first().alias("first_at"),
        pl.col("c").first().alias("first_cost"),
        pl.col("received_at").alias("at"),
        pl.col("c").alias("costs"),
        pl.col("request_id").alias("ids"),
    )


def _hist(df: pl.DataFrame, col: str, prefix: str) -> pl.DataFrame:
    import polars as pl

    dims = ["key_id", "model", "provider"]
    counts = df.group_by(*dims, col).agg(pl.len().cast(pl.Int64).alias("k")).sort(col)
    return counts.group_by(dims, maintain_order=True).agg(
        pl.col(col).cast(pl.Int64).alias(f"{prefix}_values"), pl.col("k").alias(f"{prefix}_counts")
    )


def token_rows(df: pl.DataFrame) -> pl.DataFrame:
    """``kind = 'tokens'`` rows (what the ``max_tokens`` rule reads)."""
    import polars as pl

    dims = ["key_id", "model", "provider"]
    rows = df.filter(
        (pl.col("status") == "ok").fill_null(False)
        & pl.col("max_tokens").is_not_null()
        & pl.col("completion_tokens").is_not_null()
    ).with_columns((pl.col("max_tokens") - pl.col("completion_tokens")).alias("gap"))
    base = (
        rows.sort(pl.col("gap"), pl.col("request_id"), descending=[True, False])
        .group_by(dims, maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("gap").clip(lower_bound=0).cast(pl.Int64).sum().alias("unused"),
            (pl.col("finish_reason") == "length")
            .fill_null(False)
            .cast(pl.Int64)
            .sum()
            .alias("cut"),
            pl.col("request_id").head(3).alias("ex_ids"),
            pl.col("gap").head(3).cast(pl.Float64).alias("ex_values"),
        )
    )
    hists = _hist(rows, "completion_tokens", "ct").join(
        _hist(rows, "max_tokens", "mt"), on=dims, nulls_equal=True
    )
    return base.join(hists, on=dims, nulls_equal=True)


def short_rows(df: pl.DataFrame, limits: tuple[int, int] = SHORT_LIMITS) -> pl.DataFrame:
    """``kind = 'short'`` rows (what the ``cheaper_model`` rule reads)."""
    import polars as pl

    tools = pl.col("body").str.contains('"tools"', literal=True) | pl.col("body").str.contains(
        '"functions"', literal=True
    )
    rows = df.filter(
        (pl.col("status") == "ok").fill_null(False)
        & pl.col("endpoint").is_in(CHAT_ENDPOINTS).fill_null(False)
        & (pl.col("prompt_tokens") <= limits[0]).fill_null(False)
        & (pl.col("completion_tokens") <= limits[1]).fill_null(False)
        & ~tools.fill_null(False)
    )
    ordered = rows.sort(
        pl.col("cost_usd"), pl.col("request_id"), descending=[True, False], nulls_last=True
    )
    return ordered.group_by("model", "provider", maintain_order=True).agg(
        pl.len().cast(pl.Int64).alias("n"),
        pl.col("prompt_tokens").cast(pl.Int64).sum(),
        pl.col("completion_tokens").cast(pl.Int64).sum(),
        pl.col("c").sum().alias("cost"),
        pl.col("request_id").head(5).alias("ex_ids"),
        pl.col("cost_usd").head(5).alias("ex_values"),
    )


def compute_cost(table: pa.Table) -> pa.Table:
    """The cost rollup of raw request rows (one requests file's rows)."""
    import polars as pl

    target = cost_schema()
    if table.num_rows == 0:
        return target.empty_table()
    df = _frame(table)
    parts = [
        key_rows(df).with_columns(pl.lit("key").alias("kind")),
        token_rows(df).with_columns(pl.lit("tokens").alias("kind")),
        short_rows(df).with_columns(pl.lit("short").alias("kind")),
        df.select(
            pl.len().cast(pl.Int64).alias("n"), pl.col("received_at").min().alias("first_at")
        ).with_columns(pl.lit("rows").alias("kind")),
    ]
    out = pl.concat([p for p in parts if p.height], how="diagonal_relaxed")
    if out.is_empty():
        return target.empty_table()
    missing = [n for n in target.names if n not in out.columns]
    arrow = out.to_arrow()
    for name in missing:
        arrow = arrow.append_column(name, pa.nulls(arrow.num_rows, target.field(name).type))
    return arrow.select(target.names).cast(target)
