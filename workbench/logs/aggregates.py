"""Dashboard aggregates over a time range, from the rollups (hour rollups for the hours
the range covers whole, minute rollups for the rest; raw rows only for ``user`` and
``tag``, which the rollups do not keep). Each returns a polars DataFrame.

Every function takes ``since`` (default ``"24h"``), ``until`` (default now),
``workspace`` and ``model`` (a value or a list; ``model`` matches the requested or the
served model) and ``root`` (the lake, default ``$WORKBENCH_HOME/logs``). Rollups are per
minute, so the range is widened to whole minutes. Percentiles come from the rollups'
log-bucket histograms: within 2.5 % of the exact nearest-rank value.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from ._filters import Filters, Values, quote_ident
from ._rollup_read import minute_filters, query_raw, query_rollups
from ._time import TimeLike, auto_bucket, parse_duration

if TYPE_CHECKING:
    import polars as pl

ROLLUP_DIMENSIONS = ("workspace", "key_id", "model_requested", "model_served", "status", "endpoint")
QUANTILES = (0.5, 0.95, 0.99)
_COUNTS = ("requests", "errors", "rejected", "blocks", "cache_hits", "streamed")


def _filters(since: TimeLike, until: TimeLike, workspace: Values, model: Values) -> Filters:
    return Filters.of(since, until, workspace=workspace, model=model)


def _dims(by: str | Sequence[str] | None, allowed: Sequence[str]) -> list[str]:
    cols = [] if by is None else [by] if isinstance(by, str) else list(by)
    for c in cols:
        if c not in allowed:
            raise ValueError(f"cannot group by {c!r}; choose from {', '.join(allowed)}")
    return cols


def _empty(schema: dict[str, pl.DataType]) -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(schema=schema)


def _sums() -> str:
    counts = ", ".join(f"CAST(sum({c}) AS BIGINT) AS {c}" for c in _COUNTS)
    return (
        f"{counts}, CAST(sum(prompt_tokens) AS BIGINT) AS prompt_tokens, "
        "CAST(sum(completion_tokens) AS BIGINT) AS completion_tokens, sum(cost_usd) AS cost_usd"
    )


def _with_rates(df: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    n = pl.col("requests").cast(pl.Float64)
    return df.with_columns(
        (pl.col("errors") / n).alias("error_rate"),
        (pl.col("rejected") / n).alias("rejected_rate"),
        (pl.col("blocks") / n).alias("block_rate"),
        (pl.col("cache_hits") / n).alias("cache_hit_rate"),
    )


def _totals_schema(keys: dict[str, pl.DataType]) -> dict[str, pl.DataType]:
    import polars as pl

    out: dict[str, pl.DataType] = dict(keys)
    for col in (*_COUNTS, "prompt_tokens", "completion_tokens"):
        out[col] = pl.Int64()
    out["cost_usd"] = pl.Float64()
    return out


def traffic(
    since: TimeLike = "24h",
    until: TimeLike = None,
    workspace: Values = None,
    model: Values = None,
    bucket: str | timedelta | None = None,
    root: Path | None = None,
) -> pl.DataFrame:
    """Requests, errors, rejections, guardrail blocks and cache hits per time bucket
    (``bucket`` like ``"5m"``, whole minutes; default chosen from the range), with
    ``requests_per_s`` and the rates. Buckets without traffic are there with zeros."""
    import polars as pl

    f = minute_filters(_filters(since, until, workspace, model))
    start, end = f.window.bounds()
    width = parse_duration(bucket) if isinstance(bucket, str) else bucket
    step = max(60, int((width or auto_bucket(start, end)).total_seconds()) // 60 * 60)
    origin = int(start.timestamp()) // step * step
    sql = (
        f"SELECT CAST((epoch(minute)::BIGINT - {origin}) // {step} AS BIGINT) AS slot, "
        f"{_sums()} FROM {{src}} GROUP BY slot"
    )
    got = query_rollups(root, f, sql, hourly=step % 3600 == 0)
    if got is None:
        got = _empty(_totals_schema({"slot": pl.Int64()}))
    last = max(0, (int(end.timestamp()) - origin - 1) // step)
    slots = pl.DataFrame({"slot": pl.int_range(0, last + 1, eager=True).cast(pl.Int64)})
    frame = slots.join(got, on="slot", how="left").fill_null(0).sort("slot")
    frame = frame.with_columns(
        ((pl.col("slot") * step + origin) * 1_000_000).cast(pl.Datetime("us", "UTC")).alias("time"),
        (pl.col("requests") / step).alias("requests_per_s"),
    )
    cols = ["time", *_COUNTS, "prompt_tokens", "completion_tokens", "cost_usd", "requests_per_s"]
    return _with_rates(frame.select(cols))


def _quantiles(hist: pl.DataFrame, keys: list[str], prefix: str) -> pl.DataFrame:
    """Nearest-rank quantiles per group from ``(keys..., b, n)`` histogram rows."""
    import polars as pl

    from workbench.logstore.rollups import BUCKET_BASE, BUCKET_MIN_MS

    if not keys:
        hist = hist.with_columns(pl.lit(0).alias("_all"))
        keys = ["_all"]
    ordered = hist.sort([*keys, "b"]).with_columns(
        pl.col("n").cum_sum().over(keys).alias("cum"), pl.col("n").sum().over(keys).alias("tot")
    )
    value = (
        pl.when(pl.col("b") <= 0)
        .then(0.0)
        .otherwise(BUCKET_MIN_MS * pl.lit(BUCKET_BASE).pow(pl.col("b").cast(pl.Float64) - 0.5))
    )
    aggs = [
        value.filter(pl.col("cum") >= q * pl.col("tot"))
        .first()
        .alias(f"{prefix}_p{round(q * 100)}")
        for q in QUANTILES
    ]
    out = ordered.group_by(keys).agg(aggs)
    return out.drop("_all") if "_all" in out.columns else out


def _histogram(root: Path | None, f: Filters, keys: list[str], name: str) -> pl.DataFrame:
    import polars as pl

    sel = "".join(f"{quote_ident(k)}, " for k in keys)
    sql = (
        f"SELECT {sel}b, CAST(sum(n) AS BIGINT) AS n FROM (SELECT {sel}"
        f"unnest({name}_buckets) AS b, unnest({name}_counts) AS n FROM {{src}}) GROUP BY ALL"
    )
    got = query_rollups(root, f, sql)
    if got is None:
        return _empty({**{k: pl.String() for k in keys}, "b": pl.Int16(), "n": pl.Int64()})
    return got


def latency(
    since: TimeLike = "24h",
    until: TimeLike = None,
    workspace: Values = None,
    model: Values = None,
    by: str | Sequence[str] | None = "model_served",
    root: Path | None = None,
) -> pl.DataFrame:
    """Latency and time to first token per group (default: served model): p50, p95,
    p99 (from the histograms), mean and max, with the request counts behind them."""
    import polars as pl

    keys = _dims(by, ROLLUP_DIMENSIONS)
    f = minute_filters(_filters(since, until, workspace, model))
    sel = "".join(f"{quote_ident(k)}, " for k in keys)
    group = f" GROUP BY {', '.join(quote_ident(k) for k in keys)}" if keys else ""
    sql = (
        f"SELECT {sel}CAST(sum(requests) AS BIGINT) AS requests, "
        "CAST(sum(latency_count) AS BIGINT) AS latency_count, "
        "sum(latency_sum) / nullif(sum(latency_count), 0) AS latency_mean, "
        "max(latency_max) AS latency_max, CAST(sum(ttft_count) AS BIGINT) AS ttft_count, "
        "sum(ttft_sum) / nullif(sum(ttft_count), 0) AS ttft_mean, max(ttft_max) AS ttft_max "
        f"FROM {{src}}{group}"
    )
    base = query_rollups(root, f, sql)
    if base is None or (not keys and base["requests"][0] is None):
        schema = {k: pl.String() for k in keys}
        return _empty({**schema, "requests": pl.Int64()})
    for name in ("latency", "ttft"):
        q = _quantiles(_histogram(root, f, keys, name), keys, name)
        if keys:
            base = base.join(q, on=keys, how="left", nulls_equal=True)
        elif q.height:
            base = pl.concat([base, q], how="horizontal_extend")
    return base.sort("requests", descending=True) if keys else base


SPEND_DIMENSIONS = (*ROLLUP_DIMENSIONS, "day", "hour", "user", "tag")
_TIME_KEYS = {
    "day": "CAST(date_trunc('day', {t}) AS DATE) AS day",
    "hour": "date_trunc('hour', {t}) AS hour",
}


def _key_sql(keys: list[str], time_col: str) -> tuple[str, str]:
    """The select list and GROUP BY text of ``keys`` (``day``/``hour`` from ``time_col``)."""
    sel = [_TIME_KEYS[k].format(t=time_col) if k in _TIME_KEYS else quote_ident(k) for k in keys]
    return "".join(f"{s}, " for s in sel), (" GROUP BY ALL" if keys else "")


def spend(
    since: TimeLike = "30d",
    until: TimeLike = None,
    workspace: Values = None,
    model: Values = None,
    by: str | Sequence[str] = ("workspace", "day"),
    root: Path | None = None,
) -> pl.DataFrame:
    """Spend (``cost_usd``), tokens and requests per group, most expensive first.

    ``by``: any of workspace, key_id, model_requested, model_served, status, endpoint,
    day, hour (from the rollups), user and tag (from a projected scan of raw rows: a
    request with several tags counts under each; one without is under a null tag).
    """
    keys = _dims(by, SPEND_DIMENSIONS)
    f = _filters(since, until, workspace, model)
    if {"user", "tag"} & set(keys):
        return _spend_raw(root, f, keys)
    sel, group = _key_sql(keys, "minute")
    sql = (
        f"SELECT {sel}sum(cost_usd) AS cost_usd, CAST(sum(requests) AS BIGINT) AS requests, "
        "CAST(sum(prompt_tokens) AS BIGINT) AS prompt_tokens, "
        f"CAST(sum(completion_tokens) AS BIGINT) AS completion_tokens FROM {{src}}{group}"
    )
    got = query_rollups(root, minute_filters(f), sql)
    return _sorted_spend(got, keys)


def _spend_raw(root: Path | None, f: Filters, keys: list[str]) -> pl.DataFrame:
    cols = [k for k in keys if k not in ("tag", "day", "hour")]
    proj = ", ".join(
        [
            *(quote_ident(c) for c in cols),
            "received_at",
            "cost_usd",
            "prompt_tokens",
            "completion_tokens",
        ]
    )
    if "tag" in keys:
        proj += ", unnest(CASE WHEN len(tags) > 0 THEN tags ELSE [NULL] END) AS tag"
    sel, group = _key_sql(keys, "received_at")
    sql = (
        f"SELECT {sel}sum(cost_usd) AS cost_usd, CAST(count(*) AS BIGINT) AS requests, "
        "CAST(sum(prompt_tokens) AS BIGINT) AS prompt_tokens, "
        "CAST(sum(completion_tokens) AS BIGINT) AS completion_tokens "
        f"FROM (SELECT {proj} FROM {{src}}){group}"
    )
    return _sorted_spend(query_raw(root, f, sql), keys)


def _sorted_spend(got: pl.DataFrame | None, keys: list[str]) -> pl.DataFrame:
    import polars as pl

    if got is None:
        schema: dict[str, pl.DataType] = {k: pl.String() for k in keys}
        schema.update(cost_usd=pl.Float64(), requests=pl.Int64())
        return _empty(schema)
    if not keys:
        return got.with_columns(pl.col("cost_usd").fill_null(0.0))
    return got.sort(["cost_usd", *keys], descending=[True, *[False] * len(keys)], nulls_last=True)


def top_keys(
    since: TimeLike = "24h",
    until: TimeLike = None,
    workspace: Values = None,
    model: Values = None,
    n: int = 10,
    order_by: str = "requests",
    root: Path | None = None,
) -> pl.DataFrame:
    """The ``n`` API keys with the most ``requests`` (or ``cost_usd``, ``tokens``,
    ``errors``, ``blocks``), with their workspace, counts, tokens, spend and rates."""
    orders = ("requests", "cost_usd", "tokens", "errors", "blocks")
    if order_by not in orders:
        raise ValueError(f"order_by must be one of {', '.join(orders)}")
    f = minute_filters(_filters(since, until, workspace, model))
    sql = (
        f"SELECT key_id, workspace, {_sums()}, "
        "CAST(sum(prompt_tokens) + sum(completion_tokens) AS BIGINT) AS tokens "
        f"FROM {{src}} GROUP BY key_id, workspace ORDER BY {order_by} DESC, key_id LIMIT ?"
    )
    got = query_rollups(root, f, sql, [int(n)])
    if got is None:
        import polars as pl

        return _empty(_totals_schema({"key_id": pl.String(), "workspace": pl.String()}))
    return _with_rates(got)


def rates(
    since: TimeLike = "24h",
    until: TimeLike = None,
    workspace: Values = None,
    model: Values = None,
    by: str | Sequence[str] | None = None,
    root: Path | None = None,
) -> pl.DataFrame:
    """Error (5xx), rejection (4xx), guardrail-block and cache-hit rates, overall or per
    group (any rollup dimension, ``day`` or ``hour``), with the counts behind them."""
    import polars as pl

    keys = _dims(by, (*ROLLUP_DIMENSIONS, "day", "hour"))
    f = minute_filters(_filters(since, until, workspace, model))
    sel, group = _key_sql(keys, "minute")
    got = query_rollups(root, f, f"SELECT {sel}{_sums()} FROM {{src}}{group}")
    if got is None:
        got = _empty(_totals_schema({k: pl.String() for k in keys}))
    if not keys:  # one row, zeros when nothing was logged
        zero = pl.DataFrame([[0]] * got.width, schema=got.schema, orient="col")
        got = (got if got.height else zero).fill_null(0)
    else:
        got = got.sort("requests", descending=True)
    return _with_rates(got)
