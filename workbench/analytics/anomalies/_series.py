"""Time series from the request log: one value per bucket, series and metric.

One DuckDB scan with ``GROUPING SETS`` aggregates every level (workspace, key, model) at
once, reading only the columns it needs. The result is a long polars frame
``(level, entity, metric, ts, value, volume)`` with every bucket present from a series'
first request to the end of the range: a bucket with no requests has ``requests = 0``
and ``cost = 0`` (an outage is a real value) and a null value, volume 0, for the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workbench._time import duration as parse_duration

from ._metrics import LEVELS, METRICS

if TYPE_CHECKING:
    import duckdb
    import polars as pl

COLUMNS: tuple[str, ...] = ("level", "entity", "metric", "ts", "value", "volume")
"""Columns of a series frame."""

_OK = "status = 'ok'"
_ANSWERED = f"{_OK} AND coalesce(cache_status, '') <> 'hit'"
_AGGREGATES = f"""
    count(*) AS requests,
    coalesce(sum(cost_usd), 0) AS cost,
    avg(total_tokens) FILTER ({_OK}) AS tokens_per_request,
    count(total_tokens) FILTER ({_OK}) AS n_tokens,
    quantile_cont(latency_ms, 0.95) FILTER ({_ANSWERED}) AS p95_latency,
    count(latency_ms) FILTER ({_ANSWERED}) AS n_latency,
    quantile_cont(ttft_ms, 0.95) FILTER ({_ANSWERED}) AS p95_ttft,
    count(ttft_ms) FILTER ({_ANSWERED}) AS n_ttft,
    count(*) FILTER (status = 'error') AS errors,
    count(*) FILTER (coalesce(error_code, '') = 'guardrail_denied') AS blocks,
    count(*) FILTER (cache_status = 'hit') AS hits,
    count(*) FILTER (cache_status IN ('hit', 'miss')) AS lookups
"""
# metric -> (value expression, volume expression) over the aggregate columns
_LONG: dict[str, tuple[str, str]] = {
    "requests": ("requests", "requests"),
    "cost": ("cost", "requests"),
    "tokens_per_request": ("tokens_per_request", "n_tokens"),
    "p95_latency": ("p95_latency", "n_latency"),
    "p95_ttft": ("p95_ttft", "n_ttft"),
    "error_rate": ("errors / requests", "requests"),
    "block_rate": ("blocks / requests", "requests"),
    "cache_hit_rate": ("hits / nullif(lookups, 0)", "lookups"),
}
_ZERO_WHEN_EMPTY = frozenset({"requests", "cost"})


def floor_time(when: datetime, bucket: timedelta) -> datetime:
    """``when`` (UTC) rounded down to a multiple of ``bucket`` since the epoch."""
    when = when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)
    step = int(bucket.total_seconds())
    return datetime.fromtimestamp(int(when.timestamp()) // step * step, tz=UTC)


def aggregate_sql(source: str, bucket: timedelta, levels: Sequence[str]) -> str:
    """The one-scan SQL over ``source`` (parameters: since, until) for ``levels``."""
    step = int(bucket.total_seconds())
    if step < 60 or step % 60:
        raise ValueError("the bucket must be a whole number of minutes")
    unknown = [lv for lv in levels if lv not in LEVELS]
    if unknown or not levels:
        raise ValueError(f"unknown levels {unknown} (known: {', '.join(LEVELS)})")
    cols = ", ".join(f"{LEVELS[lv]} AS {lv}" for lv in levels)
    sets = ", ".join(f"(ts, {lv})" for lv in levels)
    which = " ".join(f"WHEN grouping({lv}) = 0 THEN '{lv}'" for lv in levels)
    entity = "coalesce(" + ", ".join(levels) + ")"
    return f"""
    WITH base AS (
      SELECT to_timestamp(floor(epoch(received_at) / {step}) * {step}) AS ts, {cols},
             cost_usd, total_tokens, latency_ms, ttft_ms, status, error_code, cache_status
      FROM {source} WHERE received_at >= $since AND received_at < $until
    ), agg AS (
      SELECT CASE {which} END AS level, {entity} AS entity, ts, {_AGGREGATES}
      FROM base GROUP BY GROUPING SETS ({sets})
    )
    SELECT * FROM agg WHERE entity IS NOT NULL
    """


def _long(wide: pl.DataFrame, metrics: Sequence[str]) -> pl.DataFrame:
    import polars as pl

    parts = []
    for name in metrics:
        value, volume = _LONG[name]
        parts.append(
            wide.select(
                pl.col("level"),
                pl.col("entity"),
                pl.lit(name).alias("metric"),
                pl.col("ts"),
                pl.sql_expr(value).cast(pl.Float64).alias("value"),
                pl.sql_expr(volume).cast(pl.Float64).alias("volume"),
            )
        )
    return pl.concat(parts) if parts else _empty()


def _empty() -> pl.DataFrame:
    import polars as pl

    return pl.DataFrame(
        schema={
            "level": pl.String,
            "entity": pl.String,
            "metric": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "value": pl.Float64,
            "volume": pl.Float64,
        }
    )


def fill_gaps(frame: pl.DataFrame, bucket: timedelta, until: datetime) -> pl.DataFrame:
    """Every bucket from a series' first one to the last before ``until`` (see module)."""
    import polars as pl

    if frame.is_empty():
        return frame
    end = floor_time(until - timedelta(microseconds=1), bucket)
    firsts = frame.group_by("level", "entity", "metric").agg(pl.col("ts").min().alias("first"))
    grid = (
        firsts.with_columns(
            pl.datetime_ranges("first", pl.lit(end).dt.cast_time_unit("us"), interval=bucket).alias(
                "ts"
            )
        )
        .explode("ts", empty_as_null=True)
        .drop("first")
    )
    grid = grid.with_columns(pl.col("ts").dt.cast_time_unit("us").dt.replace_time_zone("UTC"))
    full = grid.join(frame, on=["level", "entity", "metric", "ts"], how="left")
    zero = pl.col("metric").is_in(list(_ZERO_WHEN_EMPTY))
    return full.with_columns(
        pl.when(pl.col("value").is_null() & zero)
        .then(0.0)
        .otherwise(pl.col("value"))
        .alias("value"),
        pl.col("volume").fill_null(0.0),
    ).sort("level", "entity", "metric", "ts")


def series_from(
    con: duckdb.DuckDBPyConnection,
    source: str,
    *,
    since: datetime,
    until: datetime,
    bucket: timedelta = timedelta(hours=1),
    levels: Sequence[str] = tuple(LEVELS),
    metrics: Sequence[str] = tuple(METRICS),
) -> pl.DataFrame:
    """Series from any DuckDB relation ``source`` with the log's column names."""
    for name in metrics:
        if name not in METRICS:
            raise ValueError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    params: dict[str, Any] = {"since": since, "until": until}
    wide = con.sql(aggregate_sql(source, bucket, levels), params=params).pl()
    if wide.is_empty():
        return _empty()
    import polars as pl

    wide = wide.with_columns(pl.col("ts").dt.cast_time_unit("us").dt.convert_time_zone("UTC"))
    return fill_gaps(_long(wide, metrics), bucket, until)


def series(
    since: str | timedelta | datetime = "28d",
    until: datetime | None = None,
    *,
    bucket: str | timedelta = "1h",
    levels: Sequence[str] = tuple(LEVELS),
    metrics: Sequence[str] = tuple(METRICS),
    root: Path | None = None,
) -> pl.DataFrame:
    """Series from the log lake (``root``: default ``$WORKBENCH_HOME/logs``).

    ``since`` is a start time or a look-back (``"7d"``) from ``until`` (default now);
    buckets are aligned to multiples of ``bucket`` since the epoch, so hourly buckets
    start on the hour. The frame has the columns :data:`COLUMNS`.
    """
    from workbench.logstore.reader import consistent

    step = parse_duration(bucket)
    end = until or datetime.now(UTC)
    start = since if isinstance(since, datetime) else end - parse_duration(since)
    start = floor_time(start, step)
    return consistent(
        root,
        lambda cur: series_from(
            cur, "requests", since=start, until=end, bucket=step, levels=levels, metrics=metrics
        ),
    )
