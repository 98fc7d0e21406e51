"""Computing the minute rollup of raw request rows (polars; a few ms per flush).

See :mod:`workbench.logstore.rollups` for what each measure means.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    import polars as pl

ROLLUP_VERSION = 1
DIMENSIONS: tuple[str, ...] = (
    "workspace",
    "key_id",
    "model_requested",
    "model_served",
    "status",
    "endpoint",
)
BUCKET_BASE = 1.05
BUCKET_MIN_MS = 0.01
MAX_BUCKET = 32767

# The raw columns a rollup reads, with the type a missing one is filled with.
INPUTS: dict[str, pa.DataType] = {
    "received_at": pa.timestamp("us", tz="UTC"),
    **dict.fromkeys(DIMENSIONS, pa.string()),
    "error_code": pa.string(),
    "guardrail_verdicts": pa.string(),
    "cache_status": pa.string(),
    "stream": pa.bool_(),
    "prompt_tokens": pa.int32(),
    "completion_tokens": pa.int32(),
    "cost_usd": pa.float64(),
    "latency_ms": pa.float64(),
    "ttft_ms": pa.float64(),
}
COUNTS = ("requests", "errors", "rejected", "blocks", "cache_hits", "streamed")


def bucket_of(ms: float) -> int:
    """The histogram bucket of a duration in ms (the same rule as the rollup)."""
    if ms < BUCKET_MIN_MS:
        return 0
    return min(
        int(math.floor(math.log(ms / BUCKET_MIN_MS) / math.log(BUCKET_BASE))) + 1, MAX_BUCKET
    )


def bucket_value(index: int) -> float:
    """The value a bucket stands for: its geometric middle (0 for bucket 0)."""
    if index <= 0:
        return 0.0
    return float(BUCKET_MIN_MS * BUCKET_BASE ** (index - 0.5))


def rollup_schema() -> pa.Schema:
    """The Arrow schema of a minute-rollup file (partition columns not included)."""
    i64, f64 = pa.int64(), pa.float64()
    fields = [
        pa.field("minute", pa.timestamp("us", tz="UTC")),
        *(pa.field(d, pa.string()) for d in DIMENSIONS),
        *(pa.field(m, i64) for m in COUNTS),
        pa.field("prompt_tokens", i64),
        pa.field("completion_tokens", i64),
        pa.field("cost_usd", f64),
    ]
    for name in ("latency", "ttft"):
        fields += [
            pa.field(f"{name}_count", i64),
            pa.field(f"{name}_sum", f64),
            pa.field(f"{name}_max", f64),
            pa.field(f"{name}_buckets", pa.list_(pa.int16())),
            pa.field(f"{name}_counts", pa.list_(pa.int32())),
        ]
    return pa.schema(fields, metadata={b"workbench.rollup_version": str(ROLLUP_VERSION).encode()})


def _inputs(table: pa.Table) -> pa.Table:
    """The columns a rollup reads, typed; a column the table lacks reads as null."""
    cols = []
    for name, typ in INPUTS.items():
        if name in table.column_names:
            cols.append(table.column(name).cast(typ))
        else:
            cols.append(pa.nulls(table.num_rows, typ))
    return pa.Table.from_arrays(cols, names=list(INPUTS))


def bucket_expr(col: str) -> pl.Expr:
    """The polars expression of a duration column's histogram bucket (null stays null)."""
    import polars as pl

    c = pl.col(col)
    raw = ((c / BUCKET_MIN_MS).log() / math.log(BUCKET_BASE)).floor() + 1
    return (
        pl.when(c.is_null())
        .then(None)
        .when(c < BUCKET_MIN_MS)
        .then(0)
        .otherwise(raw.clip(upper_bound=MAX_BUCKET))
        .cast(pl.Int16)
    )


_VERDICT = None  # polars dtype of one guardrail verdict, built on first use


def _denied_by_verdict(df: pl.DataFrame) -> pl.Series:
    """Rows with a failed, enforced ``deny`` verdict (only rows mentioning "deny" parsed)."""
    import polars as pl

    global _VERDICT
    if _VERDICT is None:
        _VERDICT = pl.List(
            pl.Struct({"action": pl.String, "passed": pl.Boolean, "mode": pl.String})
        )
    flag = pl.Series("v", [False] * df.height, dtype=pl.Boolean)
    idx = df.select(
        pl.arg_where(pl.col("guardrail_verdicts").str.contains('"deny"', literal=True))
    ).to_series()
    if idx.len() == 0:
        return flag
    texts = df["guardrail_verdicts"].gather(idx)
    parsed = texts.str.json_decode(_VERDICT)
    hit = parsed.list.eval(
        (pl.element().struct.field("action") == "deny")
        & (pl.element().struct.field("passed") == False)  # noqa: E712
        & (pl.element().struct.field("mode").fill_null("enforce") == "enforce")
    ).list.any()
    return flag.scatter(idx, hit.fill_null(False))


def _histogram(df: pl.DataFrame, keys: list[str], col: str, name: str) -> pl.DataFrame:
    import polars as pl

    return (
        df.filter(pl.col(col).is_not_null())
        .group_by([*keys, col])
        .agg(pl.len().cast(pl.Int32).alias("n"))
        .sort(col)
        .group_by(keys, maintain_order=True)
        .agg(pl.col(col).alias(f"{name}_buckets"), pl.col("n").alias(f"{name}_counts"))
    )


def _measures() -> list[pl.Expr]:
    import polars as pl

    i64 = pl.Int64
    out = [
        pl.len().cast(i64).alias("requests"),
        (pl.col("status") == "error").sum().cast(i64).alias("errors"),
        (pl.col("status") == "rejected").sum().cast(i64).alias("rejected"),
        pl.col("blocked").sum().cast(i64).alias("blocks"),
        (pl.col("cache_status") == "hit").sum().cast(i64).alias("cache_hits"),
        pl.col("stream").sum().cast(i64).alias("streamed"),
        pl.col("prompt_tokens").cast(i64).sum().alias("prompt_tokens"),
        pl.col("completion_tokens").cast(i64).sum().alias("completion_tokens"),
        pl.col("cost_usd").sum().alias("cost_usd"),
    ]
    for name, col in (("latency", "latency_ms"), ("ttft", "ttft_ms")):
        out += [
            pl.col(col).count().cast(i64).alias(f"{name}_count"),
            pl.col(col).sum().alias(f"{name}_sum"),
            pl.col(col).max().alias(f"{name}_max"),
        ]
    return out


def compute_frame(table: pa.Table) -> pl.DataFrame:
    """The minute rollup of raw rows, with ``date`` and ``hour`` columns, sorted by them."""
    import polars as pl

    df = pl.from_arrow(_inputs(table))
    assert isinstance(df, pl.DataFrame)
    blocked = (pl.col("error_code") == "guardrail_denied").fill_null(False)
    df = df.with_columns(
        pl.col("received_at").dt.truncate("1m").alias("minute"),
        (blocked | _denied_by_verdict(df)).alias("blocked"),
        bucket_expr("latency_ms").alias("lb"),
        bucket_expr("ttft_ms").alias("tb"),
    )
    keys = ["minute", *DIMENSIONS]
    main = df.group_by(keys).agg(_measures())
    for col, name in (("lb", "latency"), ("tb", "ttft")):
        main = main.join(
            _histogram(df, keys, col, name), on=keys, how="left", nulls_equal=True
        ).with_columns(
            pl.col(f"{name}_buckets").fill_null(pl.lit([], dtype=pl.List(pl.Int16))),
            pl.col(f"{name}_counts").fill_null(pl.lit([], dtype=pl.List(pl.Int32))),
        )
    return main.with_columns(
        pl.col("minute").dt.strftime("%Y-%m-%d").alias("date"),
        pl.col("minute").dt.hour().cast(pl.Int32).alias("hour"),
    ).sort("date", "hour", "minute")


def _merged_histogram(df: pl.DataFrame, keys: list[str], name: str) -> pl.DataFrame:
    """The sparse histograms of rollup rows summed per ``keys`` (buckets sorted)."""
    import polars as pl

    b, c = f"{name}_buckets", f"{name}_counts"
    flat = (
        df.select([*keys, b, c]).explode([b, c], empty_as_null=True).filter(pl.col(b).is_not_null())
    )
    return (
        flat.group_by([*keys, b])
        .agg(pl.col(c).sum().cast(pl.Int32))
        .sort(b)
        .group_by(keys, maintain_order=True)
        .agg(pl.col(b), pl.col(c))
    )


def coarsen(table: pa.Table, every: str = "1h") -> pa.Table:
    """Rollup rows (any mix of minute rows) re-aggregated to ``every`` (a polars
    duration): the ``minute`` column becomes the start of the coarser period, counts and
    sums add up, maxima take the max, histograms are summed bucket by bucket. The
    result has the rollup schema, so minute and coarser rows read together."""
    import polars as pl

    target = rollup_schema()
    if table.num_rows == 0:
        return target.empty_table()
    df = pl.from_arrow(table.select(target.names))
    assert isinstance(df, pl.DataFrame)
    df = df.with_columns(pl.col("minute").dt.truncate(every))
    keys = ["minute", *DIMENSIONS]
    sums = [*COUNTS, "prompt_tokens", "completion_tokens", "cost_usd"]
    sums += [f"{n}_{m}" for n in ("latency", "ttft") for m in ("count", "sum")]
    main = df.group_by(keys).agg(
        *(pl.col(c).sum() for c in sums), pl.col("latency_max").max(), pl.col("ttft_max").max()
    )
    for name in ("latency", "ttft"):
        main = main.join(
            _merged_histogram(df, keys, name), on=keys, how="left", nulls_equal=True
        ).with_columns(
            pl.col(f"{name}_buckets").fill_null(pl.lit([], dtype=pl.List(pl.Int16))),
            pl.col(f"{name}_counts").fill_null(pl.lit([], dtype=pl.List(pl.Int32))),
        )
    main = main.sort(keys, nulls_last=True)
    return main.select(target.names).to_arrow().cast(target)


def compute(table: pa.Table) -> dict[tuple[str, int], pa.Table]:
    """The minute rollup of raw request rows, split by ``(date, hour)`` partition."""
    if table.num_rows == 0:
        return {}
    frame = compute_frame(table)
    target = rollup_schema()
    out: dict[tuple[str, int], pa.Table] = {}
    for (date, hour), part in frame.partition_by(["date", "hour"], as_dict=True).items():
        out[(str(date), int(hour))] = part.select(target.names).to_arrow().cast(target)
    return out
