"""One series with its expected band, bucket by bucket: what an alert is drawn against.

The band is the detector's own (:func:`score_series`): expected value ± ``z_threshold`` x
noise, as in an alert's ``lower``/``upper``, for every bucket of the range.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._config import DetectorConfig
from ._detector import iter_arrays
from ._metrics import LEVELS, metric
from ._score import score_series
from ._series import parse_duration, series

if TYPE_CHECKING:
    import polars as pl


def band(
    level: str,
    entity: str,
    metric_name: str,
    since: datetime,
    until: datetime | None = None,
    *,
    bucket: str | timedelta = "1h",
    history: str | timedelta = "28d",
    config: DetectorConfig | None = None,
    root: Path | None = None,
) -> pl.DataFrame:
    """``ts, value, expected, lower, upper, z, valid`` of one series in ``[since, until)``
    (baselines from ``history`` before ``since``, as :func:`detect` builds them).

    ``level`` is one of :data:`LEVELS` (``workspace``, ``key``, ``model``); an entity
    without traffic gives an empty frame.
    """
    import polars as pl

    if level not in LEVELS:
        raise ValueError(f"unknown level {level!r} (known: {', '.join(LEVELS)})")
    cfg = config or DetectorConfig()
    step = parse_duration(bucket)
    end = until or datetime.now(UTC)
    frame = series(
        since - parse_duration(history),
        end,
        bucket=step,
        levels=[level],
        metrics=[metric_name],
        root=root,
    )
    frame = frame.filter(pl.col("entity") == entity)
    schema: dict[str, Any] = {
        "ts": pl.Datetime("us", "UTC"), "value": pl.Float64, "expected": pl.Float64,
        "lower": pl.Float64, "upper": pl.Float64, "z": pl.Float64, "valid": pl.Boolean,
    }  # fmt: skip
    for _key, ts, x, n in iter_arrays(frame):
        sc = score_series(ts, x, n, metric(metric_name), int(step.total_seconds()), cfg)
        width = cfg.z_threshold * sc.sd
        out = pl.DataFrame(
            {
                "ts": (ts * 1_000_000).tolist(),
                "value": sc.value,
                "expected": sc.expected,
                "lower": np.maximum(sc.expected - width, 0.0),
                "upper": sc.expected + width,
                "z": sc.z,
                "valid": sc.valid,
            }
        ).with_columns(pl.col("ts").cast(pl.Datetime("us", "UTC")))
        return out.filter(pl.col("ts") >= since).fill_nan(None)
    return pl.DataFrame(schema=schema)
