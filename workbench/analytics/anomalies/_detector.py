"""From scores to alerts: direction, minimum volume, persistence, drift, severity.

A bucket *alerts* in a direction the metric cares about when it is valid (enough volume
and history) and either

- its robust z passes ``z_threshold`` and at least ``persist_k`` of the last
  ``persist_n`` buckets did too (persistence), or
- its robust z passes ``z_extreme`` (one bucket is enough), or
- the drift CUSUM (z against the slow baseline) passes ``cusum_h``.

Alerting buckets at most ``merge_gap`` apart form one :class:`Anomaly`, whose severity
comes from its peak robust z.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from ._config import DetectorConfig
from ._metrics import Metric, metric
from ._score import B, Scores, score_series

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True)
class Anomaly:
    """One alert-worthy episode of one series and metric."""

    level: str
    entity: str
    metric: str
    start: datetime
    end: datetime
    severity: str
    direction: str
    value: float
    expected: float
    lower: float
    upper: float
    z: float
    detector: str
    points: int

    @property
    def series(self) -> str:
        """``level=entity``, e.g. ``key=k-123``."""
        return f"{self.level}={self.entity}"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (times as ISO 8601)."""
        out = asdict(self)
        out["start"], out["end"] = self.start.isoformat(), self.end.isoformat()
        out["series"] = self.series
        return out

    def describe(self) -> str:
        """One line for people: what moved, how far, since when."""
        arrow = "above" if self.direction == "up" else "below"
        return (
            f"[{self.severity}] {self.metric} of {self.series} {arrow} normal: "
            f"{self.value:.4g} vs expected {self.expected:.4g} "
            f"(band {self.lower:.4g}-{self.upper:.4g}, z={self.z:+.1f}, {self.detector}) "
            f"since {self.start:%Y-%m-%d %H:%M} UTC"
        )


def _persist(flags: B, k: int, n: int) -> B:
    counts = np.convolve(flags.astype(np.int64), np.ones(n, dtype=np.int64))[: flags.size]
    return flags & (counts >= k)


def alert_masks(sc: Scores, m: Metric, cfg: DetectorConfig) -> dict[str, tuple[B, B]]:
    """Per direction the metric cares about: (alerting buckets, buckets the drift fired)."""
    z = np.nan_to_num(sc.z, nan=0.0)
    out: dict[str, tuple[B, B]] = {}
    for direction, sign, drift in (("up", 1.0, sc.drift_up), ("down", -1.0, sc.drift_down)):
        if m.direction not in (direction, "both"):
            continue
        zz = sign * z
        over = sc.valid & (zz >= cfg.z_threshold)
        level = _persist(over, cfg.persist_k, cfg.persist_n)
        if m.kind in ("count", "rate"):  # light-tailed: one extreme bucket is enough
            level |= sc.valid & (zz >= cfg.z_extreme)
        drifted = sc.valid & (drift >= cfg.cusum_h)
        out[direction] = (level | drifted, drifted & ~level)
    return out


def _runs(mask: B, gap: int) -> list[tuple[int, int]]:
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    runs: list[tuple[int, int]] = []
    start = prev = int(idx[0])
    for i in idx[1:].tolist():
        if i - prev > gap + 1:
            runs.append((start, prev))
            start = i
        prev = i
    runs.append((start, prev))
    return runs


def _to_time(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


def episodes(
    key: tuple[str, str, str],
    ts: np.ndarray,
    x: np.ndarray,
    sc: Scores,
    bucket_s: int,
    cfg: DetectorConfig,
) -> list[Anomaly]:
    """The anomalies of one scored series (``key`` = level, entity, metric)."""
    m = metric(key[2])
    found: list[Anomaly] = []
    for direction, (mask, drift_only) in alert_masks(sc, m, cfg).items():
        sign = 1.0 if direction == "up" else -1.0
        for a, b in _runs(mask, cfg.merge_gap):
            seg = np.arange(a, b + 1)
            hits = seg[mask[seg]]
            peak = int(hits[np.argmax(sign * np.nan_to_num(sc.z[hits], nan=-np.inf))])
            e, sd, zp = float(sc.expected[peak]), float(sc.sd[peak]), float(sc.z[peak])
            drift = bool(drift_only[hits].all())
            mixed = bool(drift_only[hits].any())
            found.append(
                Anomaly(
                    level=key[0],
                    entity=key[1],
                    metric=key[2],
                    start=_to_time(int(ts[a])),
                    end=_to_time(int(ts[b]) + bucket_s),
                    severity="info" if drift and abs(zp) < cfg.z_threshold else cfg.severity(zp),
                    direction=direction,
                    value=float(sc.value[peak]),
                    expected=e,
                    lower=max(e - cfg.z_threshold * sd, 0.0),
                    upper=e + cfg.z_threshold * sd,
                    z=zp,
                    detector="drift" if drift else ("level+drift" if mixed else "level"),
                    points=int(hits.size),
                )
            )
    return found


def iter_arrays(
    frame: pl.DataFrame,
) -> Iterable[tuple[tuple[str, str, str], np.ndarray, np.ndarray, np.ndarray]]:
    """``(key, ts epoch seconds, values, volumes)`` for every series of a series frame."""
    import polars as pl

    frame = frame.sort("level", "entity", "metric", "ts")
    parts = frame.partition_by("level", "entity", "metric", as_dict=True, maintain_order=True)
    for key, part in parts.items():
        ts = part.get_column("ts").dt.epoch("s").to_numpy().astype(np.int64)
        x = part.get_column("value").cast(pl.Float64).fill_null(np.nan).to_numpy()
        n = part.get_column("volume").cast(pl.Float64).fill_null(0.0).to_numpy()
        yield (str(key[0]), str(key[1]), str(key[2])), ts, x, n


def detect_frame(
    frame: pl.DataFrame,
    *,
    bucket: timedelta = timedelta(hours=1),
    config: DetectorConfig | None = None,
    since: datetime | None = None,
) -> list[Anomaly]:
    """Anomalies in a series frame (see :func:`series`); only those ending after ``since``
    (the buckets before it still feed the baselines)."""
    cfg = config or DetectorConfig()
    bucket_s = int(bucket.total_seconds())
    found: list[Anomaly] = []
    for key, ts, x, n in iter_arrays(frame):
        sc = score_series(ts, x, n, metric(key[2]), bucket_s, cfg)
        found.extend(episodes(key, ts, x, sc, bucket_s, cfg))
    if since is not None:
        found = [a for a in found if a.end > since]
    return sorted(found, key=lambda a: (a.start, a.level, a.entity, a.metric))
