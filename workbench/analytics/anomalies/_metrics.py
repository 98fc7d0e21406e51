"""The metrics the anomaly detector watches, and how each one behaves.

Each metric is one number per time bucket and series (a workspace, a key or a model),
with a *volume*: the number of requests behind it. The detector's noise model, minimum
volume and the direction that matters are properties of the metric, not of the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["up", "down", "both"]
Kind = Literal["count", "sum", "mean", "quantile", "rate"]


@dataclass(frozen=True)
class Metric:
    """How one metric is read and judged.

    ``kind`` picks the sampling-noise model: ``count`` (Poisson), ``sum`` (a compound
    Poisson total such as spend), ``mean`` and ``quantile`` (relative noise shrinking as
    ``1/sqrt(volume)``), ``rate`` (binomial). ``seasonal`` metrics get an hour-of-week (or
    hour-of-day) profile in their baseline; the others a rolling level only.
    ``min_volume`` is the smallest volume (requests behind the value; for ``count``, the
    larger of the observed and the expected count) at which a point may alert. A p95 needs
    100 (five values above it): on fewer, one timeout moves it several-fold.
    """

    name: str
    kind: Kind
    direction: Direction
    min_volume: float
    seasonal: bool
    description: str
    unit: str = ""

    @property
    def positive(self) -> bool:
        """Values are strictly positive magnitudes (modelled on a log scale)."""
        return self.kind != "rate"


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("requests", "count", "both", 20, True, "requests per bucket", "req"),
        Metric("cost", "sum", "up", 20, True, "spend per bucket", "USD"),
        Metric("tokens_per_request", "mean", "up", 20, False, "mean total tokens", "tok"),
        Metric("p95_latency", "quantile", "up", 100, True, "p95 latency of answered calls", "ms"),
        Metric("p95_ttft", "quantile", "up", 100, True, "p95 time to first token", "ms"),
        Metric("error_rate", "rate", "up", 30, False, "share of requests that failed"),
        Metric("block_rate", "rate", "up", 30, False, "share denied by a guardrail check"),
        Metric("cache_hit_rate", "rate", "down", 30, False, "cache hits per cache lookup"),
    )
}
"""Every metric, by name (the order the CLI lists them in)."""

LEVELS: dict[str, str] = {
    "workspace": "workspace",
    "key": "key_id",
    "model": "coalesce(model_served, model_requested)",
}
"""Series levels and the log expression that names a series at that level."""


def metric(name: str) -> Metric:
    """The metric called ``name`` (``ValueError`` naming the known ones otherwise)."""
    try:
        return METRICS[name]
    except KeyError:
        known = ", ".join(METRICS)
        raise ValueError(f"unknown metric {name!r} (known: {known})") from None
