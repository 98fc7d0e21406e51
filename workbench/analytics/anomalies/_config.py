"""Detector settings: one frozen dataclass, every field documented, defaults tuned.

The defaults were chosen on the tuning seeds of ``bench/anomalies.py`` (seeds 1-4) and
reported on other seeds; see docs/anomalies.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, Literal

Seasonal = Literal["stl", "how", "none"]


@dataclass(frozen=True)
class DetectorConfig:
    """How series are scored and when a point becomes an alert."""

    z_threshold: float = 5.0
    """A point is anomalous when its robust z (in the direction that matters) reaches this."""
    z_extreme: float = 9.0
    """A single point this far out alerts without waiting for persistence."""
    persist_k: int = 2
    persist_n: int = 3
    """Persistence: at least ``persist_k`` anomalous points among the last ``persist_n``."""
    severity_warn: float = 6.0
    severity_critical: float = 10.0
    """Peak robust z at which an alert is ``warn`` / ``critical`` (below: ``info``)."""
    cusum_k: float = 1.0
    cusum_h: float = 8.0
    cusum_clip: float = 3.0
    """Drift (CUSUM on the z against the slow baseline): allowance ``k``, decision level
    ``h`` (also the statistic's cap, so it forgets a past change quickly) and the clip of
    each input above ``k`` (one outlier cannot make a drift)."""
    drift_metrics: frozenset[str] = frozenset(
        {
            "tokens_per_request",
            "p95_latency",
            "p95_ttft",
            "error_rate",
            "block_rate",
            "cache_hit_rate",
        }
    )
    """Metrics the drift detector watches. Not volumes (requests, spend): against a
    weekly profile their slow level wanders with organic growth and past incidents, and
    false drifts on them dominated the tuning runs; sudden changes of volume still alert."""
    seasonal: Seasonal = "how"
    """Seasonal profile once 14 days of history exist: ``stl`` (statsmodels STL, weekly
    period, refit weekly), ``how`` (median of the same hour-of-week), ``none``. With 2 to
    14 days the profile is the median of the same hour-of-day; before, none."""
    level_window: timedelta = timedelta(hours=24)
    """Trailing window of the robust level (median of the deseasonalised values)."""
    rate_window: timedelta = timedelta(hours=72)
    """Trailing window of the pooled baseline of a rate (errors, blocks, cache hits)."""
    drift_window: timedelta = timedelta(days=7)
    """Trailing window of the slow level that the drift detector compares against."""
    dispersion_window: timedelta = timedelta(days=7)
    """Trailing window over which the extra-sampling dispersion of the z is estimated."""
    pool_window: timedelta = timedelta(hours=6)
    """A rate, mean or quantile bucket under the minimum volume is judged pooled with the
    buckets before it, up to this span, until the volume is reached."""
    history: timedelta = timedelta(days=28)
    """At most this much history feeds a seasonal profile."""
    min_points: int = 6
    """Valid points the level window needs before a point is scored."""
    rel_floor: float = 0.03
    """Relative noise floor of magnitudes (a 3% change is never significant alone)."""
    rate_floor: float = 0.003
    """Absolute noise floor of rates."""
    merge_gap: int = 2
    """Alert points at most this many buckets apart belong to one alert."""
    min_volume: dict[str, float] = field(default_factory=dict)
    """Per-metric overrides of :attr:`Metric.min_volume`."""

    def with_(self, **changes: Any) -> DetectorConfig:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def severity(self, z: float) -> str:
        """``info``, ``warn`` or ``critical`` for a peak robust z."""
        az = abs(z)
        if az >= self.severity_critical:
            return "critical"
        if az >= self.severity_warn:
            return "warn"
        return "info"
