"""Spend by dimension over a time window, month to date, and cache savings.

All figures come from the ``requests`` view (DuckDB over the Parquet lake, only the
columns used are read, ``date`` partitions outside the window are pruned) and are
returned as polars frames. Spend is the logged ``cost_usd`` (the estimate the gateway
made with the price table in force at the time, see ``price_table_version``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ._rates import load_prices_or, rates_frame
from ._window import When, Window, run

if TYPE_CHECKING:
    import polars as pl

    from workbench.pricing import PriceTable

#: Dimension name -> SQL expression over ``requests`` (``tag`` is unnested, see spend()).
DIMENSIONS: dict[str, str] = {
    "workspace": "workspace",
    "key": "key_id",
    "user": '"user"',
    "model": "coalesce(model_served, model_requested)",
    "provider": "provider",
    "endpoint": "endpoint",
    "status": "status",
    "tag": "tag",
    "hour": "date_trunc('hour', received_at)",
    "day": "CAST(date_trunc('day', received_at) AS DATE)",
}
_TIME_DIMS = frozenset({"hour", "day"})
CACHE_HIT_STATUSES = ("hit", "semantic_hit")
"""``cache_status`` values that mean the answer came from a cache (no upstream call)."""


def _dims(by: str | Sequence[str]) -> list[str]:
    names = [by] if isinstance(by, str) else list(by)
    if not names:
        raise ValueError("give at least one dimension to group by")
    for name in names:
        if name not in DIMENSIONS:
            raise ValueError(f"unknown dimension {name!r} (known: {', '.join(DIMENSIONS)})")
    return names


def _source(names: list[str], where: str) -> str:
    """The rows to aggregate: ``requests`` in the window, one row per tag if by tag."""
    if "tag" not in names:
        return f"SELECT * FROM requests WHERE {where}"
    return (
        "SELECT *, unnest(CASE WHEN tags IS NULL OR len(tags) = 0 "
        f"THEN [NULL]::VARCHAR[] ELSE tags END) AS tag FROM requests WHERE {where}"
    )


def spend(
    since: When = "30d",
    until: When = None,
    by: str | Sequence[str] = "workspace",
    *,
    root: Path | None = None,
    now: datetime | None = None,
) -> pl.DataFrame:
    """Spend in ``[since, until)`` grouped by one or more :data:`DIMENSIONS`.

    Columns: the dimensions, ``requests``, ``prompt_tokens``, ``completion_tokens``,
    ``cost_usd`` (sum of logged costs; a request without a cost adds 0),
    ``unpriced_requests`` (requests with tokens but no cost: an unknown remote model)
    and ``share`` (of the window's total spend). By ``tag`` a request counts once per
    tag (untagged requests under a null tag), so shares may add up to more than 1.
    Time dimensions sort in time order, others by spend, largest first.
    """
    names = _dims(by)
    window = Window.of(since, until, now)
    where, params = window.where()
    select = ", ".join(f"{DIMENSIONS[n]} AS {n}" for n in names)
    group = ", ".join(str(i + 1) for i in range(len(names)))
    order = (
        ", ".join(n for n in names if n in _TIME_DIMS)
        if any(n in _TIME_DIMS for n in names)
        else "cost_usd DESC"
    )
    sql = f"""
        WITH src AS ({_source(names, where)}),
        total AS (SELECT sum(coalesce(cost_usd, 0)) AS t FROM requests WHERE {where})
        SELECT {select},
               count(*) AS requests,
               sum(coalesce(prompt_tokens, 0))::BIGINT AS prompt_tokens,
               sum(coalesce(completion_tokens, 0))::BIGINT AS completion_tokens,
               sum(coalesce(cost_usd, 0)) AS cost_usd,
               count(*) FILTER (WHERE cost_usd IS NULL AND coalesce(total_tokens, 0) > 0)
                   AS unpriced_requests,
               CASE WHEN any_value(total.t) > 0
                    THEN sum(coalesce(cost_usd, 0)) / any_value(total.t) ELSE 0 END AS share
        FROM src, total
        GROUP BY {group}
        ORDER BY {order}, requests DESC
    """
    return run(sql, params + params, root)


def month_start(now: datetime) -> datetime:
    """Midnight UTC on the first day of ``now``'s month."""
    now = now.astimezone(UTC) if now.tzinfo else now.replace(tzinfo=UTC)
    return now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def month_to_date(
    by: str | Sequence[str] | None = None,
    *,
    root: Path | None = None,
    now: datetime | None = None,
) -> float | pl.DataFrame:
    """Spend since the start of the current UTC month: a number, or a frame ``by`` dims."""
    now = now or datetime.now(UTC)
    start = month_start(now)
    if by is not None:
        return spend(start, now, by, root=root, now=now)
    where, params = Window.of(start, now, now).where()
    df = run(f"SELECT sum(coalesce(cost_usd, 0)) AS c FROM requests WHERE {where}", params, root)
    value = df["c"][0] if df.height else None
    return float(value or 0.0)


def cache_savings(
    since: When = "30d",
    until: When = None,
    by: str | Sequence[str] | None = None,
    *,
    root: Path | None = None,
    now: datetime | None = None,
    prices: PriceTable | None = None,
) -> pl.DataFrame:
    """What the requests answered from a cache would have cost at their model's price.

    A request counts when ``cache_status`` is ``hit`` or ``semantic_hit``. Its saving is
    its logged ``prompt_tokens`` and ``completion_tokens`` (the cached answer's usage) at
    the current price-table rate of its model and provider, minus whatever ``cost_usd``
    it was still charged. Hits whose model the table does not price, or that carry no
    token counts, are counted in ``unpriced_requests`` and add nothing.
    Columns: the dimensions (if any), ``requests``, ``saved_usd``, ``unpriced_requests``.
    """
    import polars as pl

    names = _dims(by) if by is not None else []
    window = Window.of(since, until, now)
    where, params = window.where()
    hits = ", ".join(f"'{s}'" for s in CACHE_HIT_STATUSES)
    dims_sql = "".join(f"{DIMENSIONS[n]} AS {n}, " for n in names)
    sql = f"""
        SELECT {dims_sql}coalesce(model_served, model_requested) AS _model,
               provider AS _provider, prompt_tokens, completion_tokens, cost_usd
        FROM ({_source(names, where)}) WHERE cache_status IN ({hits})
    """
    rows = run(sql, params, root)
    table = load_prices_or(prices)
    pairs = zip(rows["_model"].to_list(), rows["_provider"].to_list(), strict=True)
    rates = rates_frame(table, pairs).rename({"model": "_model", "provider": "_provider"})
    full = pl.col("prompt_tokens") * pl.col("in_rate") + pl.col("completion_tokens") * (
        pl.col("out_rate")
    )
    joined = rows.join(rates, on=["_model", "_provider"], how="left", nulls_equal=True)
    joined = joined.with_columns(
        (full - pl.col("cost_usd").fill_null(0.0)).clip(lower_bound=0.0).alias("saved")
    )
    aggs = [
        pl.len().alias("requests"),
        pl.col("saved").fill_null(0.0).sum().alias("saved_usd"),
        pl.col("saved").is_null().sum().alias("unpriced_requests"),
    ]
    if not names:
        return joined.select(aggs)
    return joined.group_by(names).agg(aggs).sort("saved_usd", descending=True)
