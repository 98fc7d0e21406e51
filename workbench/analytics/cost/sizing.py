"""``max_tokens`` far above what completions actually use, per key and model.

For each (key, model) with at least ``min_requests`` successful requests that set
``max_tokens``: when the 95th percentile of ``completion_tokens`` times ``ratio`` is
still at most the median requested ``max_tokens``, the key asks for far more than it
uses. The money at stake is the unused reservation, ``sum(max_tokens -
completion_tokens)`` at the model's output rate: what a budget or rate limit that
reserves ``max_tokens`` up front over-reserves. OpenAI-style providers bill the tokens
actually generated, so for them it is *not* a saving on the bill (``billed`` False);
only for providers listed in ``bills_on_max`` (billed on the reservation) is it one.
The suggested value is the 99th percentile of completions plus 25%, rounded up to 16.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from ._rates import rates_frame
from ._types import Suggestion, per_month
from ._window import Window, run

if TYPE_CHECKING:
    import polars as pl

    from workbench.pricing import PriceTable


def _stats(window: Window, root: Path | None, min_requests: int) -> pl.DataFrame:
    where, params = window.where()
    sql = f"""
        SELECT key_id, coalesce(model_served, model_requested) AS model, provider,
               count(*) AS n,
               quantile_cont(completion_tokens, 0.95) AS p95,
               quantile_cont(completion_tokens, 0.99) AS p99,
               quantile_cont(max_tokens, 0.5) AS median_max,
               sum(greatest(max_tokens - completion_tokens, 0))::BIGINT AS unused,
               count(*) FILTER (WHERE finish_reason = 'length') AS cut,
               list(request_id ORDER BY max_tokens - completion_tokens DESC, request_id)[1:3]
                   AS examples
        FROM requests
        WHERE {where} AND status = 'ok' AND max_tokens IS NOT NULL
          AND completion_tokens IS NOT NULL
        GROUP BY ALL HAVING count(*) >= ?
    """
    return run(sql, [*params, min_requests], root)


def _suggested(p99: float) -> int:
    return max(16, int(math.ceil(p99 * 1.25 / 16.0)) * 16)


def oversized_max_tokens(
    window: Window,
    root: Path | None,
    prices: PriceTable,
    window_days: float,
    *,
    ratio: float = 4.0,
    min_requests: int = 20,
    bills_on_max: Collection[str] = (),
    stats: pl.DataFrame | None = None,
) -> list[Suggestion]:
    """One suggestion per (key, model) whose ``max_tokens`` is far above its use
    (``stats``: the per-(key, model) statistics when the caller has them, e.g. from the
    cost rollup; else they are queried from raw rows)."""
    import polars as pl

    if stats is None:
        stats = _stats(window, root, min_requests)
    stats = stats.filter(pl.col("p95") * ratio <= pl.col("median_max"))
    if stats.is_empty():
        return []
    rates = rates_frame(prices, zip(stats["model"], stats["provider"], strict=True))
    stats = stats.join(rates, on=["model", "provider"], how="left", nulls_equal=True)
    out = []
    for row in stats.iter_rows(named=True):
        rate = row["out_rate"]
        usd = float(row["unused"] * rate) if rate is not None else 0.0
        billed = row["provider"] in bills_on_max
        new = _suggested(row["p99"])
        money = (
            "this is money off the bill: the provider bills max_tokens"
            if billed
            else "the provider bills the tokens generated, so this is not a saving on the "
            "bill: it is what a budget or rate limit reserving max_tokens over-reserves"
        )
        out.append(
            Suggestion(
                kind="max_tokens",
                title=f"max_tokens {row['median_max']:.0f} vs p95 completion "
                f"{row['p95']:.0f} ({row['key_id']}, {row['model']})",
                detail=(
                    f"Key {row['key_id']} asks {row['model']} for max_tokens "
                    f"{row['median_max']:.0f} (median over {row['n']} requests) but 95% of "
                    f"completions use at most {row['p95']:.0f} tokens. Suggested max_tokens: "
                    f"{new} (p99 + 25%); {row['cut']} requests ended at the limit. "
                    f"Unused reservation: {row['unused']} tokens; {money}."
                    + ("" if rate is not None else " The model has no price: no USD figure.")
                ),
                usd_window=usd,
                usd_per_month=per_month(usd, window_days),
                billed=billed,
                requests=int(row["n"]),
                examples=list(row["examples"]),
                data={
                    "key_id": row["key_id"],
                    "model": row["model"],
                    "p95_completion_tokens": row["p95"],
                    "p99_completion_tokens": row["p99"],
                    "median_max_tokens": row["median_max"],
                    "unused_tokens": int(row["unused"]),
                    "suggested_max_tokens": new,
                    "finished_at_length": int(row["cut"]),
                },
            )
        )
    return out
