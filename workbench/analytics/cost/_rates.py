"""Price-table rates as a frame DuckDB can join on (model, provider)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from workbench.pricing import PriceTable


def rates_frame(prices: PriceTable, pairs: Iterable[tuple[str | None, str | None]]) -> pl.DataFrame:
    """USD per token (input, output) for each ``(model, provider)`` pair the table knows.

    Pairs the table does not price (an unknown remote model) are left out, so a join
    gives them no rate (their saving is unknown, not zero).
    """
    import polars as pl

    rows: dict[str, list[object]] = {"model": [], "provider": [], "in_rate": [], "out_rate": []}
    for model, provider in set(pairs):
        if not model:
            continue
        rate = prices.rate(model, provider or "")
        if rate is None:
            continue
        rows["model"].append(model)
        rows["provider"].append(provider)
        rows["in_rate"].append(rate.input / 1_000_000)
        rows["out_rate"].append(rate.output / 1_000_000)
    return pl.DataFrame(
        rows,
        schema={
            "model": pl.Utf8,
            "provider": pl.Utf8,
            "in_rate": pl.Float64,
            "out_rate": pl.Float64,
        },
    )


def load_prices_or(prices: PriceTable | None) -> PriceTable:
    """``prices``, or the configured price table (``$WORKBENCH_PRICES`` or the packaged)."""
    if prices is not None:
        return prices
    from workbench.pricing import load_prices

    return load_prices()
